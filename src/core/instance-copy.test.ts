import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coreFixture, type CoreFixture } from './testing/core-fixture.js';
import { assertEachStepLeavesNothing, stepsOf } from './testing/fail-each-step.js';

const stoppedVm = async (t: CoreFixture) => void (await t.launch({ name: 'src', image: 'tiny', start: false, cpus: 2, labels: { team: 'a' } }));
const runningWithSnapshot = async (t: CoreFixture) => {
  await t.launch({ name: 'src', image: 'tiny' });
  assert.equal((await t.wait(await t.snapshots.create('default', 'src', { name: 's1' }))).status, 'success');
};

test('copy of a stopped VM: same configuration and networks, its own UUID, ids, addresses and root cloned from the source', async () => {
  const t = await coreFixture();
  try {
    await stoppedVm(t);
    const src = await t.repo.record('default', 'src');
    const end = await t.wait(await t.copier.copy('default', 'src', { name: 'cp' }));
    assert.equal(end.status, 'success', JSON.stringify(end.error));
    const cp = await t.repo.record('default', 'cp');
    assert.notEqual(cp.uuid, src.uuid);
    assert.equal(cp.state, 'stopped');
    assert.deepEqual([cp.image, cp.cpus, cp.memory, cp.disk, cp.driver, cp.labels], [src.image, src.cpus, src.memory, src.disk, src.driver, src.labels]);
    assert.equal(cp.nics.length, 1);
    assert.equal(cp.nics[0]!.network, 'default');
    assert.notEqual(cp.nics[0]!.mac, src.nics[0]!.mac);
    assert.notEqual(cp.nics[0]!.address, src.nics[0]!.address);
    assert.notEqual(cp.nics[0]!.tap, src.nics[0]!.tap);
    assert.notDeepEqual(cp.driverConfig, src.driverConfig, 'its own QEMU uid');
    assert.equal((await t.store.list('/vmids/')).length, 2);
    assert.deepEqual(cp.root, { pool: 'default', volume: `root-${cp.uuid}` });
    assert.equal(t.pool.volumes.get(`root-${cp.uuid}`)!.origin, `root-${src.uuid} (linked)`);
    assert.equal((await t.storage.meta('default', 'default', `root-${cp.uuid}`)).attachedTo, 'cp');
    assert.equal(t.qemu.host.seeds.get(cp.uuid)?.['meta-data']?.includes('cp'), true, 'a seed with its own hostname');
    assert.deepEqual(await t.repo.record('default', 'src'), src, 'the source is untouched');
  } finally {
    await t.done();
  }
});

test('copy of a running VM is refused unless a snapshot is copied; a snapshot copy clones the root at that snapshot', async () => {
  const t = await coreFixture();
  try {
    await runningWithSnapshot(t);
    await assert.rejects(t.copier.copy('default', 'src', { name: 'cp' }), { message: 'instance src is running: stop it first, or copy one of its snapshots (--snapshot)' });
    await assert.rejects(t.copier.copy('default', 'src', { name: 'src' }), { message: 'a copy needs a new name: src is the source' });
    await assert.rejects(t.copier.copy('default', 'src', { name: 'cp', snapshot: 'nope' }), /snapshot nope of instance src/);
    const src = await t.repo.record('default', 'src');
    const end = await t.wait(await t.copier.copy('default', 'src', { name: 'cp', snapshot: 's1', start: true }));
    assert.equal(end.status, 'success', JSON.stringify(end.error));
    const cp = await t.repo.record('default', 'cp');
    assert.equal(cp.state, 'running');
    assert.equal(cp.desired?.power, 'running');
    assert.ok(t.qemu.host.processes.has(cp.uuid));
    assert.equal(t.pool.volumes.get(`root-${cp.uuid}`)!.origin, `root-${src.uuid}@s1 (full)`, 'a full clone: linked clones from snapshots are not possible on this pool');
    assert.deepEqual(await t.repo.record('default', 'src'), src);
  } finally {
    await t.done();
  }
});

test('copy of a container keeps its driver settings and gets its own id range', async () => {
  const t = await coreFixture();
  try {
    await t.launch({ name: 'src', image: 'tiny', type: 'container', start: false });
    const end = await t.wait(await t.copier.copy('default', 'src', { name: 'cp' }));
    assert.equal(end.status, 'success', JSON.stringify(end.error));
    const [src, cp] = [await t.repo.record('default', 'src'), await t.repo.record('default', 'cp')];
    assert.equal(cp.type, 'container');
    assert.equal(cp.driver, 'runc');
    assert.equal((await t.store.list('/idmaps/')).length, 2);
    assert.notDeepEqual(cp.driverConfig, src.driverConfig);
    assert.deepEqual(t.runc.callsOf('prepare').at(-1)?.uuid, cp.uuid);
  } finally {
    await t.done();
  }
});

for (const [what, prepare, req] of [
  ['a stopped VM', stoppedVm, { name: 'cp', start: true }],
  ['a snapshot of a running VM', runningWithSnapshot, { name: 'cp', snapshot: 's1' }],
  ['a stopped container', async (t: CoreFixture) => void (await t.launch({ name: 'src', image: 'tiny', type: 'container', start: false })), { name: 'cp' }],
] as const) {
  test(`copy of ${what}: a failure at every step leaves nothing and the source untouched`, async () => {
    const copy = (t: CoreFixture) => t.copier.copy('default', 'src', { ...req });
    const steps = await stepsOf(prepare, copy);
    const drv = what.includes('container') ? 'runc' : 'qemu';
    for (const w of [`${drv}.plan#1`, `${drv}.prepare#1`, `${drv}.plugNic#1`, 'pool:default.cloneVolume#1', 'network.allocate#1', 'repo.create#1', 'repo.put#1', 'repo.patch#1', 'storage.setMeta#1']) {
      assert.ok(steps.includes(w), `step ${w} is among ${steps.join(', ')}`);
    }
    if ('start' in req) assert.ok(steps.includes('qemu.start#1'));
    // The snapshot compares the whole store (the source's record, root metadata, addresses and ids included), hosts and pools.
    await assertEachStepLeavesNothing(steps, prepare, copy);
  });
}
