import assert from 'node:assert/strict';
import { test } from 'node:test';
import YAML from 'yaml';
import type { Pool, Snapshot, Volume } from '../shared/storage-types.js';
import { renderDetail, renderList } from './output.js';
import {
  formatCapabilities,
  formatLimits,
  formatRatio,
  poolColumns,
  poolFields,
  snapshotColumns,
  volumeColumns,
  volumeFields,
} from './storage-views.js';

const NOW = Date.parse('2024-01-01T01:00:00.000Z');
const GiB = 2 ** 30;
const NO_LIMITS = { iopsRead: 0, iopsWrite: 0, bytesRead: 0, bytesWrite: 0 };

function pool(over: Partial<Pool> = {}): Pool {
  return {
    name: 'default', driver: 'dir', path: '/var/lib/nimbo/pools/default', format: 'qcow2', size: 100 * GiB, used: 30 * GiB,
    available: 70 * GiB, provisioned: 150 * GiB, overProvisioning: 1.5, volumes: 3,
    capabilities: { formats: ['qcow2'], reflink: false, snapshots: true, liveSnapshots: false, linkedClones: true },
    createdAt: '2024-01-01T00:00:00.000Z', ...over,
  };
}

function volume(over: Partial<Volume> = {}): Volume {
  return {
    name: 'data', pool: 'default', kind: 'block', format: 'qcow2', size: 10 * GiB, allocated: 196608, snapshots: 2, linked: false,
    attachedTo: 'vm1', limits: { ...NO_LIMITS }, ...over,
  };
}

test('pool list as a table: sizes human-readable, ratio short', () => {
  const items = [pool(), pool({ name: 'fast', driver: 'btrfs', path: '/srv/fast', format: 'raw', size: 2 ** 40, used: 0, available: 2 ** 40, provisioned: 0, overProvisioning: 0, volumes: 0 })];
  assert.equal(
    renderList(items, poolColumns(), 'table'),
    [
      'NAME     DRIVER  FORMAT  SIZE    USED   AVAILABLE  PROVISIONED  RATIO  VOLUMES  PATH',
      'default  dir     qcow2   100GiB  30GiB  70GiB      150GiB       1.5x   3        /var/lib/nimbo/pools/default',
      'fast     btrfs   raw     1TiB    0B     1TiB       0B           0x     0        /srv/fast',
      '',
    ].join('\n'),
  );
  assert.deepEqual(JSON.parse(renderList(items, poolColumns(), 'json')), items);
});

test('pool info: space, over-provisioning, volume count, capabilities', () => {
  const p = pool();
  const t = renderDetail(p, poolFields(p), 'table');
  assert.match(t, /^Size:               100GiB$/m);
  assert.match(t, /^Used:               30GiB \(30%\)$/m);
  assert.match(t, /^Available:          70GiB$/m);
  assert.match(t, /^Provisioned:        150GiB$/m);
  assert.match(t, /^Over-provisioning:  1\.5x$/m);
  assert.match(t, /^Volumes:            3$/m);
  assert.match(t, /^Capabilities:       formats=qcow2, snapshots, linkedClones$/m);
  assert.deepEqual(YAML.parse(renderDetail(p, poolFields(p), 'yaml')), p);
});

test('volume list as a table: filesystem quotas, attachment and limits', () => {
  const items = [
    volume(),
    volume({ name: 'web-root', kind: 'filesystem', format: undefined, size: 0, allocated: 4096, snapshots: 0, linked: true, attachedTo: null, limits: { iopsRead: 500, iopsWrite: 0, bytesRead: 0, bytesWrite: 50 * 2 ** 20 } }),
  ];
  assert.equal(
    renderList(items, volumeColumns(), 'table'),
    [
      'NAME      KIND        FORMAT  SIZE       ALLOCATED  SNAPSHOTS  LINKED  ATTACHED  LIMITS',
      'data      block       qcow2   10GiB      192KiB     2          no      vm1       -',
      'web-root  filesystem  -       unlimited  4KiB       0          yes     -         read 500 IOPS, write 50MiB/s',
      '',
    ].join('\n'),
  );
});

test('volume info: every limit, unlimited when 0', () => {
  const v = volume({ linked: true, limits: { iopsRead: 0, iopsWrite: 200, bytesRead: 10 * 2 ** 20, bytesWrite: 0 } });
  const t = renderDetail(v, volumeFields(v), 'table');
  assert.match(t, /^Pool:             default$/m);
  assert.match(t, /^Format:           qcow2$/m);
  assert.match(t, /^Size:             10GiB$/m);
  assert.match(t, /^Linked:           yes \(reads from a shared base\)$/m);
  assert.match(t, /^Attached to:      vm1$/m);
  assert.match(t, /^IOPS limit:       read unlimited, write 200 IOPS$/m);
  assert.match(t, /^Bandwidth limit:  read 10MiB\/s, write unlimited$/m);
  const fs = volume({ kind: 'filesystem', format: undefined, size: 5 * GiB, attachedTo: null });
  const f = renderDetail(fs, volumeFields(fs), 'table');
  assert.match(f, /^Quota:            5GiB$/m);
  assert.match(f, /^Attached to:      -$/m);
  assert.doesNotMatch(f, /^Format:/m);
});

test('snapshot list', () => {
  const snaps: Snapshot[] = [
    { name: 'before-upgrade', createdAt: '2024-01-01T00:00:00.000Z', vmStateBytes: 0 },
    { name: 'live', createdAt: '2024-01-01T00:59:30.000Z', vmStateBytes: 300 * 2 ** 20 },
  ];
  assert.equal(
    renderList(snaps, snapshotColumns(NOW), 'table'),
    [
      'NAME            VM STATE  CREATED                   AGE',
      'before-upgrade  -         2024-01-01T00:00:00.000Z  60m',
      'live            300MiB    2024-01-01T00:59:30.000Z  30s',
      '',
    ].join('\n'),
  );
});

test('small formatters', () => {
  assert.equal(formatRatio(1.5), '1.5x');
  assert.equal(formatRatio(2), '2x');
  assert.equal(formatRatio(0.333), '0.33x');
  assert.equal(formatRatio(10), '10x');
  assert.equal(formatRatio(Number.NaN), '-');
  assert.equal(formatCapabilities({}), '-');
  assert.equal(formatCapabilities({ formats: ['qcow2', 'raw'], reflink: true, quotas: false, maxVolumes: 8 }), 'formats=qcow2/raw, reflink, maxVolumes=8');
  assert.equal(formatLimits(NO_LIMITS), '-');
  assert.equal(formatLimits({ iopsWrite: 10, bytesRead: 2 ** 30 }), 'write 10 IOPS, read 1GiB/s');
});
