import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NimboError } from '../lib/errors.js';
import { coreFixture, withoutFreeVolumeMeta, type CoreFixture } from './testing/core-fixture.js';
import { assertEachStepLeavesNothing, stepsOf } from './testing/fail-each-step.js';

const MiB = 1024 ** 2;

/** A block volume `data` and a filesystem volume `files` in the default pool. */
async function withVolumes(t: CoreFixture): Promise<void> {
  await t.pool.createVolume({ name: 'data', kind: 'block', sizeBytes: 8 * MiB });
  await t.pool.createVolume({ name: 'files', kind: 'filesystem', sizeBytes: 0 });
}

test('VM: attach while stopped, plugged at start; live attach and detach of a running VM', async () => {
  const t = await coreFixture();
  try {
    await withVolumes(t);
    const vm = await t.launch({ name: 'vm1', image: 'tiny', start: false });
    assert.equal((await t.wait(await t.volumes.attach('default', 'vm1', 'default', 'data'))).status, 'success');
    assert.deepEqual((await t.repo.record('default', 'vm1')).volumes, [{ pool: 'default', volume: 'data' }]);
    assert.equal((await t.storage.meta('default', 'default', 'data')).attachedTo, 'vm1');
    assert.equal(t.qemu.host.volumes.get('default/data'), vm.uuid);
    assert.deepEqual(t.qemu.callsOf('plugVolume').map((c) => c.detail), [{ volume: 'default/data', live: false }]);
    assert.equal((await t.wait(await t.actions.act('default', 'vm1', 'start'))).status, 'success');
    assert.ok(t.qemu.host.processes.get(vm.uuid)!.volumes.has('default/data'), 'given to the process at start');

    // A second volume, hot-plugged into the running VM; then detached live.
    await t.pool.createVolume({ name: 'more', kind: 'block', sizeBytes: 8 * MiB });
    assert.equal((await t.wait(await t.volumes.attach('default', 'vm1', 'default', 'more'))).status, 'success');
    assert.ok(t.qemu.host.processes.get(vm.uuid)!.volumes.has('default/more'));
    const det = await t.wait(await t.volumes.detach('default', 'vm1', 'default', 'more'));
    assert.equal(det.status, 'success', JSON.stringify(det.error));
    assert.equal(t.qemu.host.processes.get(vm.uuid)!.volumes.has('default/more'), false);
    assert.equal(t.qemu.host.volumes.has('default/more'), false);
    assert.deepEqual((await t.repo.record('default', 'vm1')).volumes, [{ pool: 'default', volume: 'data' }]);
    assert.equal((await t.storage.meta('default', 'default', 'more')).attachedTo, null);
    await assert.rejects(t.volumes.detach('default', 'vm1', 'default', 'more'), { message: 'volume default/more on instance vm1 not found' });
  } finally {
    await t.done();
  }
});

test('container: a filesystem volume at a mount path; its files are given to the container (id owner)', async () => {
  const t = await coreFixture();
  try {
    await withVolumes(t);
    const ct = await t.launch({ name: 'ct1', image: 'tiny', type: 'container' });
    assert.equal((await t.wait(await t.volumes.attach('default', 'ct1', 'default', 'files', '/srv/data/'))).status, 'success');
    assert.deepEqual((await t.repo.record('default', 'ct1')).volumes, [{ pool: 'default', volume: 'files', path: '/srv/data' }]);
    assert.equal((await t.storage.meta('default', 'default', 'files')).idOwner, (ct.driverConfig as { id: number }).id);
    assert.ok(t.runc.host.processes.get(ct.uuid)!.volumes.has('default/files'), 'plugged live');
    t.runc.host.busyVolumes.add('default/files');
    await assert.rejects(t.volumes.detach('default', 'ct1', 'default', 'files'), { message: 'volume default/files is in use inside instance ct1' });
    t.runc.host.busyVolumes.clear();
    assert.equal((await t.wait(await t.volumes.detach('default', 'ct1', 'default', 'files'))).status, 'success');
    assert.deepEqual((await t.repo.record('default', 'ct1')).volumes, []);
    assert.equal(t.runc.host.volumes.size, 0);
  } finally {
    await t.done();
  }
});

test('mount path and volume kind rules: refused before anything is claimed', async () => {
  const t = await coreFixture();
  try {
    await withVolumes(t);
    await t.launch({ name: 'vm1', image: 'tiny', start: false });
    await t.launch({ name: 'ct1', image: 'tiny', type: 'container', start: false });
    await t.pool.createVolume({ name: 'files2', kind: 'filesystem', sizeBytes: 0 });
    assert.equal((await t.wait(await t.volumes.attach('default', 'ct1', 'default', 'files2', '/data'))).status, 'success');
    const before = await t.snapshot();
    const refusals: [Promise<unknown>, string][] = [
      [t.volumes.attach('default', 'vm1', 'default', 'data', '/data'), 'path is where a filesystem volume is mounted in a container; vm1 is a VM (the volume appears as a disk)'],
      [t.volumes.attach('default', 'vm1', 'default', 'files'), 'volume default/files is a filesystem volume: only block volumes attach to VMs'],
      [t.volumes.attach('default', 'ct1', 'default', 'data', '/x'), 'volume default/data is a block volume: only filesystem volumes attach to containers'],
      [t.volumes.attach('default', 'ct1', 'default', 'files'), 'give the path where default/files is mounted in container ct1 (--path)'],
      [t.volumes.attach('default', 'ct1', 'default', 'files', 'rel/path'), 'mount path "rel/path" must be an absolute path'],
      [t.volumes.attach('default', 'ct1', 'default', 'files', '/a/../b'), 'mount path "/a/../b" must not contain . or .. components'],
      [t.volumes.attach('default', 'ct1', 'default', 'files', '/'), 'a volume cannot be mounted at /: it is the container root'],
      [t.volumes.attach('default', 'ct1', 'default', 'files', '/proc/x'), "mount path /proc/x is inside /proc, which the container's init or nimbo owns"],
      [t.volumes.attach('default', 'ct1', 'default', 'files', '/data'), 'another volume is already mounted at /data'],
      [t.volumes.attach('default', 'vm1', 'default', 'files2'), 'volume default/files2 is a filesystem volume: only block volumes attach to VMs'],
    ];
    for (const [p, message] of refusals) await assert.rejects(p, { message });
    await assert.rejects(t.volumes.attach('default', 'ct1', 'default', 'files2', '/other'), { message: 'volume default/files2 is already attached to ct1' });
    assert.deepEqual(await t.snapshot(), before, 'a refused attach changes nothing');
  } finally {
    await t.done();
  }
});

for (const [what, prepare, attach] of [
  ['a running VM', async (t: CoreFixture) => { await withVolumes(t); await t.launch({ name: 'i1', image: 'tiny' }); }, (t: CoreFixture) => t.volumes.attach('default', 'i1', 'default', 'data')],
  ['a stopped VM', async (t: CoreFixture) => { await withVolumes(t); await t.launch({ name: 'i1', image: 'tiny', start: false }); }, (t: CoreFixture) => t.volumes.attach('default', 'i1', 'default', 'data')],
  ['a running container', async (t: CoreFixture) => { await withVolumes(t); await t.launch({ name: 'i1', image: 'tiny', type: 'container' }); }, (t: CoreFixture) => t.volumes.attach('default', 'i1', 'default', 'files', '/data')],
] as const) {
  test(`attach to ${what}: a failure at every step gives the claim back and leaves the record and host unchanged`, async () => {
    const steps = await stepsOf(prepare, attach);
    const drv = what.includes('container') ? 'runc' : 'qemu';
    for (const w of [`${drv}.plugVolume#1`, 'storage.claim#1', 'repo.patch#1', 'pool:default.volumePath#1']) assert.ok(steps.includes(w), `step ${w} is among ${steps.join(', ')}`);
    if (drv === 'runc') assert.ok(steps.includes('storage.updateMeta#2'), 'the id owner is recorded');
    await assertEachStepLeavesNothing(steps, prepare, attach, {
      check: async (t) => {
        assert.deepEqual((await t.repo.record('default', 'i1')).volumes ?? [], []);
        const vol = drv === 'runc' ? 'files' : 'data';
        assert.equal((await t.storage.meta('default', 'default', vol)).attachedTo, null, 'claim given back');
        assert.equal((drv === 'runc' ? t.runc : t.qemu).host.volumes.size, 0, 'no volume given to the instance on the host');
      },
      normalize: withoutFreeVolumeMeta,
    });
  });
}

test('20 concurrent attaches of one volume: exactly one succeeds, 19 get an immediate 409 "already attached"', async () => {
  const t = await coreFixture();
  try {
    await withVolumes(t);
    const names = Array.from({ length: 20 }, (_, i) => `vm${i}`);
    for (const n of names) await t.launch({ name: n, image: 'tiny', start: false });
    const results = await Promise.allSettled(names.map((n) => t.volumes.attach('default', n, 'default', 'data')));
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ name: names[i]!, op: r.value }] : []));
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 19);
    const winner = won[0]!.name;
    for (const r of lost) {
      assert.ok(r.reason instanceof NimboError && r.reason.code === 'Conflict', String(r.reason));
      assert.equal(r.reason.message, `volume default/data is already attached to ${winner}`);
    }
    assert.equal((await t.wait(won[0]!.op)).status, 'success');
    for (const n of names) assert.deepEqual((await t.repo.record('default', n)).volumes ?? [], n === winner ? [{ pool: 'default', volume: 'data' }] : []);
    assert.equal(t.qemu.callsOf('plugVolume').length, 1, 'the losers did no host work');
    assert.deepEqual(await t.store.list('/locks/'), []);
  } finally {
    await t.done();
  }
});

test('a detach that fails at any step leaves it attached (record and claim) and can be run again, or wholly detached', async () => {
  const prepare = async (t: CoreFixture) => {
    await withVolumes(t);
    await t.launch({ name: 'i1', image: 'tiny' });
    assert.equal((await t.wait(await t.volumes.attach('default', 'i1', 'default', 'data'))).status, 'success');
  };
  const detach = (t: CoreFixture) => t.volumes.detach('default', 'i1', 'default', 'data');
  const steps = await stepsOf(prepare, detach);
  for (const w of ['qemu.checkUnplugVolume#1', 'qemu.unplugVolume#1', 'repo.patch#1']) assert.ok(steps.includes(w), `step ${w} is among ${steps.join(', ')}`);
  for (const step of steps) {
    const t = await coreFixture();
    try {
      await prepare(t);
      const [name, nth] = step.split('#') as [string, string];
      t.failAt(name, Number(nth));
      const first = await detach(t).then((op) => t.wait(op), (e: Error) => ({ status: 'refused', error: { message: e.message } }));
      // Consistent either way: still attached (record and claim; then a second detach works), or wholly detached
      // (a failure of the last read, after the detach was done, fails the operation but changes nothing).
      const attached = ((await t.repo.record('default', 'i1')).volumes ?? []).length > 0;
      if (first.status !== 'success' && attached) {
        assert.deepEqual((await t.repo.record('default', 'i1')).volumes, [{ pool: 'default', volume: 'data' }], `still recorded after a failure at ${step}`);
        assert.equal((await t.storage.meta('default', 'default', 'data')).attachedTo, 'i1', `still claimed after a failure at ${step}`);
        const again = await t.wait(await detach(t));
        assert.equal(again.status, 'success', `after a failure at ${step} the detach runs again: ${JSON.stringify(again.error)}`);
      }
      assert.deepEqual((await t.repo.record('default', 'i1')).volumes, []);
      assert.equal((await t.storage.meta('default', 'default', 'data')).attachedTo, null);
      assert.equal(t.qemu.host.volumes.size, 0);
    } finally {
      await t.done();
    }
  }
});
