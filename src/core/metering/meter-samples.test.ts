import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cachedSizes, collectSamples } from './meter-samples.js';
import type { InstanceRecord } from '../instance-record.js';

const rec = (over: Partial<InstanceRecord> & Record<string, unknown>): InstanceRecord =>
  ({ name: 'web', uuid: 'u1', type: 'vm', image: 'debian', cpus: 1, memory: 1, disk: 10e9, sshKeys: [], state: 'running', accelerator: 'tcg', nics: [], createdAt: '', ...over }) as InstanceRecord;

test('samples: plan and project when the record has them, root disk plus volumes, counters of each NIC device', async () => {
  const samples = await collectSamples({
    records: async () => [
      rec({ plan: 'small', project: 'alpha', volumes: [{ pool: 'default', volume: 'data' }, { pool: 'gone', volume: 'x' }], nics: [{ name: 'eth0', network: 'n', mac: '', address: '', tap: 'tap-a' }, { name: 'eth1', network: 'n', mac: '', address: '', tap: 'tap-b' }] }),
      rec({ uuid: 'u2', name: 'ct', state: 'stopped', disk: 0 }),
    ],
    volumeSize: async (project, pool) => (project === 'alpha' && pool === 'default' ? 5e9 : Promise.reject(new Error('no pool'))),
    counters: async (dev) => (dev === 'tap-a' ? { ifindex: 4, rx: 10, tx: 20 } : undefined),
  });
  assert.deepEqual(samples, [
    { uuid: 'u1', project: 'alpha', name: 'web', plan: 'small', running: true, diskBytes: 15e9, nics: { 'tap-a': { ifindex: 4, rx: 10, tx: 20 } }, at: 0 },
    { uuid: 'u2', project: 'default', name: 'ct', plan: 'none', running: false, diskBytes: 0, nics: {}, at: 0 },
  ]);
});

test('volume sizes are asked once per TTL', async () => {
  let now = 0;
  let asked = 0;
  const size = cachedSizes(async () => ++asked, 1000, () => now);
  assert.equal(await size('a', 'p', 'v'), 1);
  assert.equal(await size('a', 'p', 'v'), 1);
  assert.equal(await size('b', 'p', 'v'), 2, 'another project, another volume');
  now = 1001;
  assert.equal(await size('a', 'p', 'v'), 3);
});
