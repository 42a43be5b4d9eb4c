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
    // Launched without hot-add room: its maximum is its size.
    await assert.rejects(vpsOf(t).act(P, 'vm1', { type: 'resize', vcpus: 2 }), { code: 'InvalidArgument', message: /runs with at most 1 vCPUs \(its maximum, set at launch with --max-cpus\)/ });
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

test('resize of a running VM with hot-add room: CPUs and memory grow live (driver resizeLive), recorded and charged; past the maximum 400, a shrink 409, nothing changed', async () => {
  const t = await coreFixture();
  try {
    const MiB = 1024 ** 2;
    const vm = await t.launch({ name: 'vm1', image: 'tiny', cpus: 1, memory: '128MiB', maxCpus: 2, maxMemory: '256MiB' });
    assert.deepEqual([vm.cpus, vm.memory, vm.maxCpus, vm.maxMemory], [1, 128 * MiB, 2, 256 * MiB]);
    const view = await t.instances.view(vm);
    assert.deepEqual([view.maxCpus, view.maxMemory], [2, 256 * MiB]);
    const before = await t.snapshot();
    await assert.rejects(vpsOf(t).act(P, 'vm1', { type: 'resize', vcpus: 3 }), { code: 'InvalidArgument', message: /at most 2 vCPUs \(its maximum/ });
    await assert.rejects(vpsOf(t).act(P, 'vm1', { type: 'resize', memoryMiB: 512 }), { code: 'InvalidArgument', message: /at most 256 MiB of memory \(its maximum/ });
    await assert.rejects(vpsOf(t).act(P, 'vm1', { type: 'resize', memoryMiB: 64 }), { code: 'Conflict', message: /shrinking them needs a stop/ });
    assert.deepEqual(await t.snapshot(), before, 'refusals change nothing');
    assert.equal(t.qemu.callsOf('resizeLive').length, 0);
    const res = await act(t, 'vm1', { type: 'resize', vcpus: 2, memoryMiB: 256 });
    assert.equal(res.applies, 'now');
    assert.match(res.message, /2 vCPUs, 256 MiB memory/);
    assert.deepEqual(t.qemu.callsOf('resizeLive').map((c) => [c.uuid, c.detail]), [[vm.uuid, { cpus: 2, memoryBytes: 256 * MiB, maxCpus: 2, maxMemoryBytes: 256 * MiB }]]);
    const rec = await t.repo.record(P, 'vm1');
    assert.deepEqual([rec.cpus, rec.memory, rec.state], [2, 256 * MiB, 'running'], 'recorded: a restart boots with the new size');
    const usage = (await t.quotas.show(P)).usage;
    assert.deepEqual([usage.vcpus, usage.memoryMiB], [2, 256], 'the quota counts the new size');
  } finally {
    await t.done();
  }
});

test('a live grow the driver fails gives the quota charge back and keeps the record', async () => {
  const t = await coreFixture();
  try {
    await t.launch({ name: 'vm1', image: 'tiny', cpus: 1, memory: '128MiB', maxCpus: 4 });
    t.failAt('qemu.resizeLive');
    const end = await t.wait(await vpsOf(t).act(P, 'vm1', { type: 'resize', vcpus: 3 }));
    assert.equal(end.status, 'failure');
    const rec = await t.repo.record(P, 'vm1');
    assert.equal(rec.cpus, 1);
    assert.equal((await t.quotas.show(P)).usage.vcpus, 1);
  } finally {
    await t.done();
  }
});

test('launch refusals: a maximum below the size, a maximum on a container (400, nothing made); max == size keeps no room', async () => {
  const t = await coreFixture();
  try {
    const before = await t.snapshot();
    await assert.rejects(t.instances.create(P, { name: 'vm1', image: 'tiny', cpus: 2, maxCpus: 1 }), { code: 'InvalidArgument', message: /maxCpus 1 is below cpus 2/ });
    await assert.rejects(t.instances.create(P, { name: 'vm1', image: 'tiny', memory: '1GiB', maxMemory: '512MiB' }), { code: 'InvalidArgument', message: /maxMemory 512MiB is below memory 1GiB/ });
    await assert.rejects(t.instances.create(P, { name: 'c1', image: 'tiny', type: 'container', maxCpus: 2 }), { code: 'InvalidArgument', message: /maxCpus and maxMemory are for VMs/ });
    assert.deepEqual(await t.snapshot(), before);
    const vm = await t.launch({ name: 'vm2', image: 'tiny', cpus: 2, maxCpus: 2 });
    assert.equal(vm.maxCpus, undefined);
  } finally {
    await t.done();
  }
});

test('resize of a running VM to a plan within its hot-add room: CPUs and memory live, the disk online, the plan recorded', async () => {
  const t = await coreFixture();
  try {
    const vm = await t.launch({ name: 'vm1', image: 'tiny', cpus: 1, memory: '512MiB', maxCpus: 2, maxMemory: '1GiB' });
    const end = await t.wait(await vpsOf(t, plans).act(P, 'vm1', { type: 'resize', plan: 'm2' }));
    assert.equal(end.status, 'success', JSON.stringify(end.error));
    const res = end.result as VpsActionResult;
    assert.match(res.message, /4 GiB disk, 2 vCPUs, 1024 MiB memory, plan m2/);
    assert.deepEqual(t.qemu.callsOf('resizeVolume').map((c) => c.uuid), [vm.uuid]);
    assert.deepEqual(t.qemu.callsOf('resizeLive').map((c) => c.uuid), [vm.uuid]);
    const rec = await t.repo.record(P, 'vm1');
    assert.deepEqual([rec.cpus, rec.memory, rec.disk, rec.plan, rec.state], [2, 1024 ** 3, 4 * GiB, 'm2', 'running']);
  } finally {
    await t.done();
  }
});
