import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NimboError } from '../../lib/errors.js';
import { keys } from '../../store/keys.js';
import type { InstanceDriver, PlanInput } from '../../drivers/compute/instance-driver.js';
import { coreFixture } from '../testing/core-fixture.js';

/** The project these tests work in. */
const P = 'default';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const bad = (re: RegExp) => (e: NimboError) => e.code === 'InvalidArgument' && re.test(e.message);

test('built-in plans are seeded once; a deleted one stays deleted; a plan in use cannot be deleted', async () => {
  const t = await coreFixture();
  try {
    assert.deepEqual((await t.plans.list()).map((p) => p.name), ['d-1', 'd-2', 's-1', 's-2']);
    assert.equal((await t.plans.show('s-1')).pricePerHour, '0.007');
    await t.plans.delete('s-2');
    await t.plans.seed();
    assert.deepEqual((await t.plans.list()).map((p) => p.name), ['d-1', 'd-2', 's-1']);
    await t.launch({ name: 'web', image: 'tiny', plan: 's-1', start: false });
    await assert.rejects(t.plans.delete('s-1'), (e: NimboError) => e.code === 'Conflict' && /plan s-1 is used by 1 instance\(s\) \(web\)/.test(e.message));
    await assert.rejects(t.plans.create({ name: 's-1', vcpus: 1, memoryMiB: 64, diskGiB: 1 }), (e: NimboError) => e.code === 'Conflict');
    await assert.rejects(t.plans.create({ name: 'x', vcpus: 1, memoryMiB: 64, diskGiB: 1, disk: { readBps: 1000 } }), bad(/at least 1048576/));
    const p = await t.plans.update('s-1', { pricePerHour: '0.01' });
    assert.equal(p.pricePerHour, '0.01');
  } finally {
    await t.done();
  }
});

test('launch --plan: a VM gets the sizes, the plan on its record, I/O limits on its root and bandwidth limits on its NICs', async () => {
  const t = await coreFixture();
  try {
    const rec = await t.launch({ name: 'vm1', image: 'tiny', plan: 's-1' });
    assert.deepEqual([rec.plan, rec.cpus, rec.memory, rec.disk], ['s-1', 1, 512 * MiB, 10 * GiB]);
    assert.deepEqual((await t.storage.meta(P, 'default', rec.root!.volume)).limits, { iopsRead: 2000, iopsWrite: 2000, bytesRead: 100 * MiB, bytesWrite: 100 * MiB });
    assert.deepEqual((await t.runtime.specOf(rec)).root.limits, { iopsRead: 2000, iopsWrite: 2000, bytesRead: 100 * MiB, bytesWrite: 100 * MiB });
    assert.deepEqual([rec.nics[0]!.ingressBps, rec.nics[0]!.egressBps], [100e6, 100e6]);
    assert.equal((await t.instances.view(rec)).plan, 's-1');
    const q = await t.quotas.show('default');
    assert.deepEqual([q.usage.instances, q.usage.vcpus, q.usage.memoryMiB, q.usage.diskGiB], [1, 1, 512, 10]);
  } finally {
    await t.done();
  }
});

test('launch --plan: a container gets its CPU weight and disk rates; explicit sizes must agree; limits cannot be overridden', async () => {
  const t = await coreFixture({ pools: { plain: { quotas: false } } });
  try {
    const seen: PlanInput[] = [];
    const orig = t.runc.plan.bind(t.runc);
    t.runc.plan = async (req) => (seen.push(req), orig(req));
    const rec = await t.launch({ name: 'ct1', image: 'tiny', type: 'container', plan: 's-2', cpus: 2, memory: '2GiB', start: false });
    assert.deepEqual([rec.cpus, rec.memory, rec.disk], [2, 2 * GiB, 40 * GiB]);
    assert.equal(seen[0]!.cpuWeight, 200);
    assert.deepEqual(seen[0]!.diskRates, { readBps: 200 * MiB, writeBps: 200 * MiB, readIops: 4000, writeIops: 4000 });
    const plain = await t.launch({ name: 'ct2', image: 'tiny', type: 'container', plan: 's-2', pool: 'plain', start: false });
    assert.equal(plain.disk, 0, 'a pool without quotas: the plan disk is counted, not enforced');
    assert.equal((await t.quotas.show('default')).usage.diskGiB, 80);
    await assert.rejects(t.instances.create(P, { name: 'x', image: 'tiny', plan: 's-2', cpus: 1 }), bad(/cpus 1 disagrees with plan s-2 \(2 vCPUs\)/));
    await assert.rejects(t.instances.create(P, { name: 'x', image: 'tiny', plan: 's-2', memory: '1GiB' }), bad(/memory 1GiB disagrees with plan s-2 \(2048 MiB\)/));
    await assert.rejects(t.instances.create(P, { name: 'x', image: 'tiny', plan: 's-2', disk: '1GiB' }), bad(/disk 1GiB disagrees/));
    await assert.rejects(t.instances.create(P, { name: 'x', image: 'tiny', type: 'container', plan: 's-2', cpuWeight: 5 }), bad(/cpuWeight cannot be given with a plan/));
    await assert.rejects(t.instances.create(P, { name: 'x', image: 'tiny', plan: 's-2', nics: [{ network: 'default', ingress: '1mbit' }] }), bad(/NIC bandwidth cannot be given/));
    await assert.rejects(t.instances.create(P, { name: 'x', image: 'tiny', plan: 'nope' }), (e: NimboError) => e.code === 'NotFound' && /plan nope not found \(plans: d-1, d-2, s-1, s-2\)/.test(e.message));
    assert.deepEqual((await t.repo.records(P)).map((r) => r.name).sort(), ['ct1', 'ct2'], 'refused launches created nothing');
  } finally {
    await t.done();
  }
});

test('dedicated plans: cores no other dedicated instance has, shared instances kept off them, refused when none are left, released on delete', async () => {
  // 4 cores, core 0 kept: 3 dedicatable; 8 GiB, 1 GiB kept.
  const t = await coreFixture();
  try {
    const shared = await t.launch({ name: 'sh', image: 'tiny', type: 'container', plan: 's-1', start: false });
    assert.deepEqual(await t.runtime.cpusetOf(shared), {}, 'nothing dedicated yet: no cpuset');
    const a = await t.launch({ name: 'a', image: 'tiny', type: 'container', plan: 'd-2', start: false });
    const b = await t.launch({ name: 'b', image: 'tiny', plan: 'd-1', start: false });
    assert.deepEqual(a.slice?.cores, [1, 2]);
    assert.deepEqual(b.slice?.cores, [3]);
    assert.deepEqual(await t.runtime.cpusetOf(a), { cpuset: [1, 2], dedicated: true });
    assert.deepEqual((await t.runtime.specOf(b)).cpuset, [3]);
    assert.deepEqual(await t.runtime.cpusetOf(shared), { cpuset: [0] }, 'shared instances run on the cores no dedicated instance has');
    assert.deepEqual((await t.instances.view(a)).dedicatedCores, [1, 2]);
    await assert.rejects(t.instances.create(P, { name: 'c', image: 'tiny', plan: 'd-1' }), (e: NimboError) => e.code === 'Conflict' && /no room for a dedicated instance on this host: 1 dedicated core\(s\) asked, 0 left/.test(e.message));
    assert.equal((await t.repo.records(P)).length, 3);
    assert.equal((await t.wait(await t.actions.remove(P, 'b'))).status, 'success');
    const c = await t.launch({ name: 'c', image: 'tiny', plan: 'd-1', start: false });
    assert.deepEqual(c.slice?.cores, [3], 'the released core is given again');
    await t.wait(await t.actions.remove(P, 'a'));
    await t.wait(await t.actions.remove(P, 'c'));
    assert.equal(await t.store.get(keys.hostSlices()), undefined);
  } finally {
    await t.done();
  }
});

test('dedicated plans: memory is reserved and never overcommitted', async () => {
  const t = await coreFixture({ sliceHost: { cpus: 8, memoryMiB: 5632, reserveCores: 1, reserveMiB: 1024 } });
  try {
    await t.launch({ name: 'a', image: 'tiny', plan: 'd-2', start: false });
    await assert.rejects(t.instances.create(P, { name: 'b', image: 'tiny', plan: 'd-1' }), (e: NimboError) => e.code === 'Conflict' && /no room for a dedicated instance on this host: 1024 MiB of memory asked, 512 MiB left to reserve/.test(e.message));
  } finally {
    await t.done();
  }
});

test('dedicated plans: running shared instances are moved off a new slice live, and back when it is deleted', async () => {
  const t = await coreFixture();
  try {
    const moves: string[] = [];
    const spy: InstanceDriver['setCpuset'] = async (ref, cores, dedicated) => void moves.push(`${ref.name} ${cores.join(',')} ${dedicated}`);
    Object.assign(t.runc, { setCpuset: spy });
    await t.launch({ name: 'sh', image: 'tiny', type: 'container', plan: 's-1' });
    await t.launch({ name: 'off', image: 'tiny', type: 'container', plan: 's-1', start: false });
    assert.deepEqual(moves, []);
    await t.launch({ name: 'ded', image: 'tiny', type: 'container', plan: 'd-1', start: false });
    assert.deepEqual(moves, ['sh 0,2,3 false'], 'only the running shared one, onto the cores left');
    assert.equal((await t.wait(await t.actions.remove(P, 'ded'))).status, 'success');
    assert.deepEqual(moves, ['sh 0,2,3 false', 'sh 0,1,2,3 false']);
  } finally {
    await t.done();
  }
});
