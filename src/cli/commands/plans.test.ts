import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planCreateBody, quotaBody, quotaFields } from './plans.js';
import { launchBody } from './instances.js';

test('plan create arguments make the POST /plans body; a float-looking price with 7 decimals is refused', () => {
  assert.deepEqual(planCreateBody('p', { vcpus: 2, memory: 1024, disk: 20, price: '0.0125', class: 'dedicated', netIn: 100, diskWriteIops: 500 }), {
    name: 'p', vcpus: 2, memoryMiB: 1024, diskGiB: 20, class: 'dedicated', pricePerHour: '0.0125', disk: { writeIops: 500 }, network: { inMbit: 100 },
  });
  assert.throws(() => planCreateBody('p', { vcpus: 1, memory: 64, disk: 1, price: '0.1234567' }), /at most 6 decimals/);
});

test('quota set FIELD=N pairs; unlimited is null; unknown fields are refused', () => {
  assert.deepEqual(quotaBody(['instances=10', 'snapshots=unlimited']), { instances: 10, snapshots: null });
  assert.throws(() => quotaBody(['cores=1']), /fields: instances, vcpus, memoryMiB/);
  assert.throws(() => quotaBody([]), /nothing to set/);
  const q = { project: 'default', limits: { instances: 10, vcpus: null, memoryMiB: null, diskGiB: null, networks: null, floatingIps: null, snapshots: null }, usage: { instances: 3, vcpus: 3, memoryMiB: 0, diskGiB: 0, networks: 0, floatingIps: 0, snapshots: 0 } };
  assert.deepEqual(quotaFields(q).slice(0, 3), [['project', 'default'], ['instances', '3 / 10'], ['vcpus', '3 / unlimited']]);
});

test('launch --plan puts the plan in the body', () => {
  assert.equal(launchBody('tiny', 'w', { plan: 's-1', start: true }).plan, 's-1');
});
