import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NimboError } from '../../lib/errors.js';
import { keys } from '../../store/keys.js';
import { coreFixture } from '../testing/core-fixture.js';

/** The project these tests work in. */
const P = 'default';

test('quota race: 50 concurrent creates against an instance quota of 10 create exactly 10; the rest get QuotaExceeded', async () => {
  const t = await coreFixture();
  try {
    await t.quotas.set('default', { instances: 10 });
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => t.instances.create(P, { name: `q${i}`, image: 'tiny', type: 'container', start: false })));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(ok.length, 10);
    assert.equal(refused.length, 40);
    for (const r of refused) {
      assert.ok(r.reason instanceof NimboError && r.reason.code === 'QuotaExceeded', String(r.reason));
      assert.match(r.reason.message, /project default is over its quota of 10 instances: 10 in use and 1 more asked/);
    }
    for (const r of ok) assert.equal((await t.wait(r.value)).status, 'success');
    assert.equal((await t.repo.records(P)).length, 10);
    const q = await t.quotas.show('default');
    assert.deepEqual([q.limits.instances, q.usage.instances, q.usage.vcpus, q.usage.memoryMiB], [10, 10, 10, 5120]);
    // A refused create made nothing: no id ranges beyond the 10, no charges beyond the 10.
    assert.equal((await t.store.list('/idmaps/')).length, 10);
    assert.equal((await t.store.list('/quota-charges/')).length, 10);
  } finally {
    await t.done();
  }
});

test('quota: a delete gives its charge back, a failed create charges nothing, vCPU and memory limits are enforced', async () => {
  const t = await coreFixture();
  try {
    await t.quotas.set('default', { vcpus: 3, memoryMiB: 1024 });
    await t.launch({ name: 'a', image: 'tiny', cpus: 2, memory: '512MiB' });
    await assert.rejects(t.instances.create(P, { name: 'b', image: 'tiny', cpus: 2, memory: '256MiB' }), (e: NimboError) => e.code === 'QuotaExceeded' && /quota of 3 vCPUs: 2 in use and 2 more asked/.test(e.message));
    await assert.rejects(t.instances.create(P, { name: 'b', image: 'tiny', cpus: 1, memory: '768MiB' }), (e: NimboError) => e.code === 'QuotaExceeded' && /MiB of memory/.test(e.message));
    // A create that fails later (the driver's start) releases what it was charged.
    t.failAt('qemu.start');
    const end = await t.wait(await t.instances.create(P, { name: 'c', image: 'tiny', cpus: 1, memory: '256MiB' }));
    assert.equal(end.status, 'failure');
    assert.deepEqual([(await t.quotas.show('default')).usage.vcpus, (await t.quotas.show('default')).usage.instances], [2, 1]);
    assert.equal((await t.wait(await t.actions.remove(P, 'a', true))).status, 'success');
    assert.equal(await t.store.get(keys.quotaUsage('default')), undefined, 'nothing used: no usage record');
    await t.launch({ name: 'd', image: 'tiny', cpus: 3, memory: '1GiB' });
    // null lifts a limit.
    await t.quotas.set('default', { vcpus: null });
    assert.equal((await t.quotas.show('default')).limits.vcpus, null);
    await t.launch({ name: 'e', image: 'tiny', cpus: 1, memory: '64MiB', start: false }).catch((e: NimboError) => assert.equal(e.code, 'QuotaExceeded'));
  } finally {
    await t.done();
  }
});

test('quota: networks, floating IPs and snapshots are counted with their records and given back when deleted', async () => {
  const t = await coreFixture();
  try {
    await t.quotas.set('default', { networks: 1, snapshots: 1, floatingIps: 1 });
    assert.equal((await t.wait(await t.network.create(P, { name: 'back' }))).status, 'success');
    await assert.rejects(t.network.create(P, { name: 'more' }), (e: NimboError) => e.code === 'QuotaExceeded' && /quota of 1 networks/.test(e.message));
    assert.equal(await t.store.get(keys.network(P, 'more')), undefined);
    await t.launch({ name: 'vm1', image: 'tiny' });
    assert.equal((await t.wait(await t.snapshots.create(P, 'vm1', { name: 's1' }))).status, 'success');
    await assert.rejects(t.snapshots.create(P, 'vm1', { name: 's2' }), (e: NimboError) => e.code === 'QuotaExceeded' && /quota of 1 snapshots/.test(e.message));
    const fl = await t.forwards.create(P, 'default', { listenAddress: '203.0.113.9', instance: 'vm1' });
    assert.equal(fl.kind, 'floating');
    await t.launch({ name: 'vm2', image: 'tiny', start: false });
    await assert.rejects(t.forwards.create(P, 'default', { listenAddress: '203.0.113.10', instance: 'vm2' }), (e: NimboError) => e.code === 'QuotaExceeded' && /floating IPs/.test(e.message));
    // A port forward is not a floating IP: not counted.
    await t.forwards.create(P, 'default', { listenAddress: '127.0.0.1', listenPort: 2222, instance: 'vm1', targetPort: 22 });
    let q = await t.quotas.show('default');
    assert.deepEqual([q.usage.networks, q.usage.snapshots, q.usage.floatingIps], [1, 1, 1]);
    assert.equal((await t.wait(await t.snapshots.remove(P, 'vm1', 's1'))).status, 'success');
    await t.forwards.delete(P, 'default', fl.id);
    assert.equal((await t.wait(await t.network.delete(P, 'back'))).status, 'success');
    q = await t.quotas.show('default');
    assert.deepEqual([q.usage.networks, q.usage.snapshots, q.usage.floatingIps], [0, 0, 0]);
  } finally {
    await t.done();
  }
});
