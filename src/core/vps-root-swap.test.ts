import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { VpsAction } from '../shared/vps-action-types.js';
import { checkInstanceRecord } from './records/instance-schema.js';
import { keys } from '../store/keys.js';
import { coreFixture, type CoreFixture } from './testing/core-fixture.js';
import { assertEachStepLeavesNothing, stepsOf } from './testing/fail-each-step.js';
import { addImage, vpsOf } from './testing/vps-fixture.js';

/** The project these tests work in. */
const P = 'default';

const act = async (t: CoreFixture, name: string, req: VpsAction) => {
  const end = await t.wait(await vpsOf(t).act(P, name, req));
  assert.equal(end.status, 'success', JSON.stringify(end.error));
  return end;
};
/** What a rebuild must keep. */
const kept = (r: Awaited<ReturnType<CoreFixture['repo']['record']>>) => ({ uuid: r.uuid, name: r.name, nics: r.nics, sshKeys: r.sshKeys, volumes: r.volumes, hostIds: r.hostIds, desired: r.desired });
/** Pids change with every start: a failed action that started the instance again is still "as it was". */
const samePids = (s: Awaited<ReturnType<CoreFixture['snapshot']>>) => ({ ...s, host: s.host.map((l) => l.replace(/^process \d+/, 'process N')) });

test('rebuild of a running VM: a new root from the image, same UUID, name, NICs, keys and volumes; the old root is gone; it runs again', async () => {
  const t = await coreFixture();
  try {
    await addImage(t, 'tiny2');
    const vm = await t.launch({ name: 'vm1', image: 'tiny', sshKeys: ['ssh-ed25519 AAAAk a@b'] });
    await t.wait(await t.storage.createVolume(P, 'default', { name: 'data', size: '1GiB' }));
    assert.equal((await t.wait(await t.volumes.attach(P, 'vm1', 'default', 'data'))).status, 'success');
    const before = await t.repo.record(P, 'vm1');
    const end = await act(t, 'vm1', { type: 'rebuild', image: 'tiny2' });
    const after = await t.repo.record(P, 'vm1');
    assert.deepEqual(kept(after), kept(before));
    assert.equal(after.image, 'tiny2');
    assert.equal(after.state, 'running');
    assert.notEqual(after.root!.volume, before.root!.volume);
    assert.deepEqual([...t.pool.volumes.keys()].sort(), ['data', after.root!.volume].sort(), 'the old root volume is deleted');
    assert.equal(await t.store.get(keys.volumeMeta(P, 'default', before.root!.volume)), undefined);
    assert.equal((await t.storage.meta(P, 'default', after.root!.volume)).attachedTo, 'vm1');
    assert.deepEqual(t.qemu.callsOf('stop').map((c) => c.detail), [{ force: false, timeoutMs: 30_000 }], 'a graceful stop first');
    assert.ok(t.qemu.host.processes.has(vm.uuid));
    assert.match((end.result as { message: string }).message, /rebuilt vm1 from tiny2/);
  } finally {
    await t.done();
  }
});

test('rebuild of a stopped container: a new filesystem root over the image tree, the old one unmounted and deleted; it stays stopped', async () => {
  const t = await coreFixture();
  try {
    await addImage(t, 'tiny2');
    const ct = await t.launch({ name: 'ct1', image: 'tiny', type: 'container', start: false });
    const before = await t.repo.record(P, 'ct1');
    await act(t, 'ct1', { type: 'rebuild', image: 'tiny2' });
    const after = await t.repo.record(P, 'ct1');
    assert.deepEqual(kept(after), kept(before));
    assert.equal(after.state, 'stopped');
    assert.deepEqual(t.runc.callsOf('removeRoot').map((c) => c.uuid), [ct.uuid]);
    assert.deepEqual([...t.pool.volumes.keys()], [after.root!.volume]);
    assert.equal(t.runc.callsOf('start').length, 0);
  } finally {
    await t.done();
  }
});

test('rebuild is refused with snapshots, an application image or too small a disk; nothing changes', async () => {
  const t = await coreFixture();
  try {
    await addImage(t, 'huge', 64 * 1024 ** 3);
    await t.launch({ name: 'vm1', image: 'tiny' });
    const before = await t.snapshot();
    await assert.rejects(vpsOf(t).act(P, 'vm1', { type: 'rebuild', image: 'huge' }), { code: 'InvalidArgument', message: /does not fit instance vm1's disk/ });
    assert.deepEqual(await t.snapshot(), before);
    assert.equal((await t.wait(await t.snapshots.create(P, 'vm1', { name: 's1' }))).status, 'success');
    await assert.rejects(vpsOf(t).act(P, 'vm1', { type: 'rebuild', image: 'tiny' }), { code: 'Conflict', message: 'instance vm1 has snapshots of its current root: delete them before a rebuild' });
  } finally {
    await t.done();
  }
});

for (const [what, launch] of [
  ['a running VM', { name: 'i1', image: 'tiny' }],
  ['a running container', { name: 'i1', image: 'tiny', type: 'container' as const }],
] as const) {
  test(`rebuild of ${what}: a failure at every step leaves the old root, the record, the host and the pools as they were`, async () => {
    const prepare = async (t: CoreFixture) => {
      await addImage(t, 'tiny2');
      await t.launch({ ...launch });
    };
    const rebuild = (t: CoreFixture) => vpsOf(t).act(P, 'i1', { type: 'rebuild', image: 'tiny2' });
    const drv = 'type' in launch ? 'runc' : 'qemu';
    // After the new root ran, the old one is removed: those steps come after the commit (logged, not rolled back).
    const steps = (await stepsOf(prepare, rebuild)).filter((s) => s !== `${drv}.removeRoot#1` && s !== 'pool:default.deleteVolume#1');
    for (const w of [`${drv}.stop#1`, `${drv}.prepare#1`, `${drv}.start#1`, 'repo.patch#3', 'storage.setMeta#1']) assert.ok(steps.includes(w), `step ${w} is among ${steps.join(', ')}`);
    await assertEachStepLeavesNothing(steps, prepare, rebuild, { normalize: samePids });
  });
}

test('rescue of a VM: the rescue image boots from its own root volume with the instance root as the second disk; unrescue goes back', async () => {
  const t = await coreFixture();
  try {
    const vm = await t.launch({ name: 'vm1', image: 'tiny' });
    const own = (await t.repo.record(P, 'vm1')).root!;
    await act(t, 'vm1', { type: 'rescue' });
    const rec = await t.repo.record(P, 'vm1');
    assert.deepEqual(rec.rescue?.root, { pool: 'default', volume: `rescue-${vm.uuid}` });
    assert.equal(rec.rescue?.image, 'tiny');
    const view = await t.views.view(rec);
    assert.deepEqual([view.state, view.rescue?.image], ['rescue', 'tiny'], 'the view says rescue, and which image');
    assert.equal(`${rec.state}/${rec.desired?.power}`, 'running/running', 'the record stays running for the reconciler');
    checkInstanceRecord(keys.instance(P, 'vm1'), rec); // the stored record is a valid version-2 record
    // Any start (the reconciler's after a daemon restart too) boots the rescue root, the own root attached.
    const spec = await t.runtime.specOf(rec);
    assert.equal(spec.root.volume, `rescue-${vm.uuid}`);
    assert.deepEqual(spec.volumes.map((v) => v.volume), [own.volume]);
    assert.equal(t.qemu.host.volumes.get(`default/${own.volume}`), vm.uuid, 'the own root is plugged into the rescue system');
    await assert.rejects(vpsOf(t).act(P, 'vm1', { type: 'rebuild', image: 'tiny' }), { code: 'Conflict', message: 'instance vm1 is in rescue: unrescue it before rebuild' });
    await assert.rejects(vpsOf(t).act(P, 'vm1', { type: 'rescue' }), { code: 'Conflict' });

    await act(t, 'vm1', { type: 'unrescue' });
    const back = await t.repo.record(P, 'vm1');
    assert.equal(back.rescue, undefined);
    assert.deepEqual(back.root, own);
    assert.equal(`${back.state}/${back.desired?.power}`, 'running/running');
    assert.deepEqual([...t.pool.volumes.keys()], [own.volume], 'the rescue root is deleted');
    assert.equal(t.qemu.host.volumes.has(`default/${own.volume}`), false, 'the own root is no extra disk any more');
    assert.equal((await t.runtime.specOf(back)).root.volume, own.volume);
  } finally {
    await t.done();
  }
});

test('delete of a VM in rescue removes its rescue disk too', async () => {
  const t = await coreFixture();
  try {
    await t.launch({ name: 'vm1', image: 'tiny' });
    await act(t, 'vm1', { type: 'rescue' });
    assert.equal(t.pool.volumes.size, 2);
    assert.equal((await t.wait(await t.actions.remove(P, 'vm1', true))).status, 'success');
    assert.deepEqual([...t.pool.volumes.keys()], []);
    assert.deepEqual((await t.store.list('/volumes/')).map((kv) => kv.key), []);
  } finally {
    await t.done();
  }
});

test('rescue of a container is refused with a clear 409 (its root is a filesystem, not a disk); nothing changes', async () => {
  const t = await coreFixture();
  try {
    await t.launch({ name: 'ct1', image: 'tiny', type: 'container' });
    const before = await t.snapshot();
    await assert.rejects(vpsOf(t).act(P, 'ct1', { type: 'rescue' }), { code: 'Conflict', message: /runs on the runc driver, whose root is a filesystem.*rescue is refused/ });
    assert.deepEqual(await t.snapshot(), before);
  } finally {
    await t.done();
  }
});

test('rescue of a running VM: a failure at every step leaves it running from its own root, nothing behind', async () => {
  const prepare = async (t: CoreFixture) => void (await t.launch({ name: 'vm1', image: 'tiny' }));
  const rescue = (t: CoreFixture) => vpsOf(t).act(P, 'vm1', { type: 'rescue' });
  const steps = await stepsOf(prepare, rescue);
  for (const w of ['qemu.stop#1', 'qemu.prepare#1', 'qemu.start#1', 'pool:default.cloneFromImage#1', 'repo.patch#3']) assert.ok(steps.includes(w), `step ${w} is among ${steps.join(', ')}`);
  await assertEachStepLeavesNothing(steps, prepare, rescue, { normalize: samePids });
});
