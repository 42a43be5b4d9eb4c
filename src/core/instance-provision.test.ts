import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceCreate } from '../shared/api-types.js';
import { assertEachStepLeavesNothing, stepsOf } from './testing/fail-each-step.js';
import { coreFixture, type CoreFixture } from './testing/core-fixture.js';

const none = async () => {};

/** Steps a create must take (so a broken step list cannot make the loop pass by running nothing). */
function assertCovers(steps: string[], want: string[]): void {
  for (const w of want) assert.ok(steps.includes(w), `step ${w} is among ${steps.join(', ')}`);
}

for (const [kind, req, driver] of [
  ['VM', { name: 'vm1', image: 'tiny', nics: [{ network: 'default' }, { network: 'default' }] }, 'qemu'],
  ['container', { name: 'ct1', image: 'tiny', type: 'container', disk: '64MiB' }, 'runc'],
] as [string, InstanceCreate, string][]) {
  test(`create of a ${kind}: a failure at every step leaves no record, address, id, volume, host object or lock`, async () => {
    const create = (t: CoreFixture) => t.instances.create('default', req);
    const steps = await stepsOf(none, create);
    const root = kind === 'VM' ? 'pool:default.cloneFromImage#1' : 'pool:default.createVolume#1';
    assertCovers(steps, [`${driver}.plan#1`, `${driver}.prepare#1`, `${driver}.plugNic#1`, `${driver}.start#1`, root, 'network.allocate#1', 'repo.create#1', 'repo.put#1', 'repo.patch#1', 'storage.setMeta#1', 'firewall.apply#1']);
    if (kind === 'VM') assertCovers(steps, [`${driver}.plugNic#2`, 'network.allocate#2']);
    await assertEachStepLeavesNothing(steps, none, create, {
      check: async (t) => {
        assert.deepEqual(await t.store.list('/instances/'), []);
        assert.deepEqual(await t.store.list('/ipam/'), []);
        assert.deepEqual([...(await t.store.list('/idmaps/')), ...(await t.store.list('/vmids/'))], []);
        assert.deepEqual(await t.store.list('/locks/'), []);
        assert.deepEqual([...t.qemu.host.allLeftovers(), ...t.runc.host.allLeftovers()], []);
        assert.equal(t.pool.volumes.size, 0);
      },
    });
  });
}

test('a successful create leaves exactly its own objects (the leftovers check sees them)', async () => {
  const t = await coreFixture();
  try {
    const rec = await t.launch({ name: 'vm1', image: 'tiny' });
    const snap = await t.snapshot();
    assert.ok(snap.host.some((h) => h.includes(rec.uuid)), 'its process and dirs are on the fake host');
    assert.deepEqual(snap.volumes, [`default/root-${rec.uuid}`]);
    assert.equal((await t.store.list('/vmids/')).length, 1);
    assert.equal((await t.store.list('/ipam/default/')).length, 1);
    assert.deepEqual(await t.store.list('/locks/'), []);
  } finally {
    await t.done();
  }
});
