import assert from 'node:assert/strict';
import { test } from 'node:test';
import YAML from 'yaml';
import type { HostInfo, Operation } from '../shared/api-types.js';
import { sampleInstance } from './fake-daemon.js';
import { renderDetail, renderList, renderTable } from './output.js';
import { archColumnsFor, hostFields, instanceColumns, instanceFields, operationFields } from './views.js';

const NOW = Date.parse('2024-01-01T01:00:00.000Z');

test('renderTable aligns columns and trims line ends', () => {
  const t = renderTable(['NAME', 'STATE'], [['a', 'running'], ['longer-name', 'x\ny']]);
  assert.equal(t, 'NAME         STATE\na            running\nlonger-name  x y\n');
});

test('instance list as a table: sizes human-readable, addresses joined', () => {
  const items = [sampleInstance(), sampleInstance({ name: 'db', type: 'container', state: 'stopped', addresses: [], memory: 2 ** 31, disk: 20 * 2 ** 30 })];
  const t = renderList(items, archColumnsFor(instanceColumns(NOW), items), 'table');
  assert.equal(
    t,
    [
      'NAME  TYPE       STATE    IMAGE  CPUS  MEMORY  DISK   ADDRESSES             AGE',
      'vm1   vm         running  tiny   2     512MiB  10GiB  10.77.0.10, fd00::10  60m',
      'db    container  stopped  tiny   2     2GiB    20GiB  -                     60m',
      '',
    ].join('\n'),
  );
});

test('instance list: an ARCH column once some instance is not x86_64, or when asked for', () => {
  const items = [sampleInstance({ arch: 'x86_64' }), sampleInstance({ name: 'arm', image: 'tiny-aarch64', arch: 'aarch64' })];
  const cols = archColumnsFor(instanceColumns(NOW), items).map((c) => c.header);
  assert.deepEqual(cols.slice(-2), ['AGE', 'ARCH']);
  assert.match(renderList(items, archColumnsFor(instanceColumns(NOW), items), 'table'), /^arm .* aarch64$/m);
  assert.deepEqual(archColumnsFor(instanceColumns(NOW), [items[0]!]).map((c) => c.header).includes('ARCH'), false);
  assert.deepEqual(archColumnsFor(instanceColumns(NOW), [items[0]!], 'name,arch').map((c) => c.header).includes('ARCH'), true);
});

test('instance list as JSON and YAML is the raw API items', () => {
  const items = [sampleInstance()];
  assert.deepEqual(JSON.parse(renderList(items, instanceColumns(), 'json')), items);
  assert.deepEqual(YAML.parse(renderList(items, instanceColumns(), 'yaml')), items);
  assert.equal(renderList([], instanceColumns(), 'json'), '[]\n');
});

test('info renders aligned fields, or the Instance object unchanged', () => {
  const inst = sampleInstance({ error: 'guest crashed' });
  const t = renderDetail(inst, instanceFields(inst), 'table');
  assert.match(t, /^Name:         vm1$/m);
  assert.match(t, /^Memory:       512MiB$/m);
  assert.match(t, /^Addresses:    10\.77\.0\.10, fd00::10$/m);
  assert.match(t, /^NIC eth0:     52:54:00:00:00:01 on default \(10\.77\.0\.10; tap nimbo-tap0\)$/m);
  assert.match(t, /^Error:        guest crashed$/m);
  assert.equal(renderDetail(inst, instanceFields(inst), 'json'), JSON.stringify(inst, null, 2) + '\n');
  assert.deepEqual(YAML.parse(renderDetail(inst, instanceFields(inst), 'yaml')), inst);
});

test('operation and host details', () => {
  const op: Operation = {
    id: 'op-1', kind: 'instance.create', target: 'vm1', status: 'failure', progress: 40, log: ['a', 'b'],
    error: { code: 'Conflict', message: 'busy' }, createdAt: 'c', updatedAt: 'u',
  };
  const t = renderDetail(op, operationFields(op), 'table');
  assert.match(t, /^Error:     Conflict: busy\nLog:       a\n           b\n$/m);
  const host: HostInfo = {
    hostname: 'h', version: '0.1.0', accelerator: 'tcg', acceleratorReason: '/dev/kvm missing', kernel: '6.1', cpus: 4,
    memory: 8 * 2 ** 30, stateDir: '/var/lib/nimbo', prefix: 'nimbo', network: { name: 'default', bridge: 'nimbo0', subnet: '10.77.0.0/24', gateway: '10.77.0.1' },
    checks: [{ name: 'qemu', ok: true, detail: 'found' }, { name: 'nft', ok: false, detail: 'missing' }],
  };
  const h = renderDetail(host, hostFields(host), 'table');
  assert.match(h, /^Accelerator:  tcg \(\/dev\/kvm missing\)$/m);
  assert.match(h, /^Memory:       8GiB$/m);
  assert.match(h, /^Checks:       failed: nft$/m);
});
