import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { VpsAction, VpsActionResult } from '../shared/vps-action-types.js';
import { coreFixture, type CoreFixture } from './testing/core-fixture.js';
import { vpsOf } from './testing/vps-fixture.js';

/** The project these tests work in. */
const P = 'default';

const GiB = 1024 ** 3;
const act = async (t: CoreFixture, name: string, req: VpsAction) => {
  const end = await t.wait(await vpsOf(t).act(P, name, req));
  assert.equal(end.status, 'success', JSON.stringify(end.error));
  return end.result as VpsActionResult;
};
const plans = {
  get: async (name: string) =>
    name === 'm2' ? { vcpus: 2, memoryMiB: 1024, diskGiB: 4, network: { inMbit: 200, outMbit: 50 } } : name === 'd1' ? { vcpus: 1, memoryMiB: 512, diskGiB: 4, class: 'dedicated' as const } : undefined,
};

test('resize of a running VM: the disk grows online through the driver; CPUs and memory are refused while it runs; shrinking is refused', async () => {
  const t = await coreFixture();
  try {
    const vm = await t.launch({ name: 'vm1', image: 'tiny' });
    const res = await act(t, 'vm1', { type: 'resize', diskGiB: 3 });
    assert.match(res.message, /3 GiB disk/);
    assert.deepEqual(t.qemu.callsOf('resizeVolume').map((c) => [c.uuid, c.detail]), [[vm.uuid, { vol: 'root', bytes: 3 * GiB }]]);
    assert.equal((await t.repo.record(P, 'vm1')).disk, 3 * GiB);
    const before = await t.snapshot();
    await assert.rejects(vpsOf(t).act(P, 'vm1', { type: 'resize', diskGiB: 2 }), { code: 'InvalidArgument', message: /shrinking it to 2147483648 is refused/ });
    await assert.rejects(vpsOf(t).act(P, 'vm1', { type: 'resize', vcpus: 2 }), { code: 'Conflict', message: /CPUs and memory change only while it is stopped/ });
    await assert.rejects(vpsOf(t).act(P, 'vm1', { type: 'resize' }), { message: 'resize needs a plan, or vcpus, memoryMiB or diskGiB' });
    await assert.rejects(vpsOf(t).act(P, 'vm1', { type: 'resize', plan: 'm2' }), { message: 'this daemon has no plans: give vcpus, memoryMiB or diskGiB' });
    assert.deepEqual(await t.snapshot(), before);
  } finally {
    await t.done();
  }
});

test('resize of a stopped VM to a plan: vCPUs, memory, disk, bandwidth and the plan itself; to a dedicated plan is 409; an unknown plan is 404; a plan and sizes together are 400', async () => {
  const t = await coreFixture();
  try {
    await t.launch({ name: 'vm1', image: 'tiny', start: false });
    const vps = vpsOf(t, plans);
    await assert.rejects(vps.act(P, 'vm1', { type: 'resize', plan: 'nope' }), { code: 'NotFound', message: 'plan nope not found' });
    await assert.rejects(vps.act(P, 'vm1', { type: 'resize', plan: 'm2', vcpus: 4 }), { code: 'InvalidArgument' });
    const end = await t.wait(await vps.act(P, 'vm1', { type: 'resize', plan: 'm2' }));
    assert.equal(end.status, 'success', JSON.stringify(end.error));
    const rec = await t.repo.record(P, 'vm1');
    assert.deepEqual([rec.cpus, rec.memory, rec.disk, rec.plan], [2, 1024 ** 3, 4 * GiB, 'm2'], 'the instance is on the plan from now on');
    assert.deepEqual([rec.nics[0]!.ingressBps, rec.nics[0]!.egressBps], [200e6, 50e6], "its NICs get the plan's bandwidth");
    await assert.rejects(vps.act(P, 'vm1', { type: 'resize', plan: 'd1' }), { code: 'Conflict', message: /resizing to or from a dedicated plan is not supported yet/ });
    assert.equal(t.qemu.callsOf('resizeVolume').length, 0, 'a stopped VM grows in the pool');
    assert.equal(t.pool.volumes.get(rec.root!.volume)?.sizeBytes, 4 * GiB);
  } finally {
    await t.done();
  }
});

test('resize whose disk grow fails puts CPUs and memory back', async () => {
  const t = await coreFixture();
  try {
    await t.launch({ name: 'vm1', image: 'tiny', start: false, cpus: 1 });
    t.pool.failAt('resizeVolume');
    const end = await t.wait(await vpsOf(t).act(P, 'vm1', { type: 'resize', vcpus: 3, memoryMiB: 2048, diskGiB: 5 }));
    assert.equal(end.status, 'failure');
    assert.match(end.error?.message ?? '', /injected failure/);
    const rec = await t.repo.record(P, 'vm1');
    assert.deepEqual([rec.cpus, rec.memory, rec.disk], [1, 512 * 1024 ** 2, 2 * GiB]);
  } finally {
    await t.done();
  }
});
