import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NimboError } from '../lib/errors.js';
import { join } from 'node:path';
import { coreFixture, TINY_BYTES } from './testing/core-fixture.js';

const GiB = 1024 ** 3;

test('create a VM: the qemu driver, host ids and root from its UUID, an address, a seed, running and desired running', async () => {
  const t = await coreFixture();
  try {
    const op = await t.instances.create('default', { name: 'vm1', image: 'tiny', cpus: 2, memory: '256MiB', sshKeys: ['ssh-ed25519 AAAA test'], labels: { env: 'test' } });
    const end = await t.wait(op);
    assert.equal(end.status, 'success', JSON.stringify(end.error));
    const rec = await t.repo.record('default', 'vm1');
    assert.deepEqual([rec.type, rec.driver, rec.state, rec.desired?.power, rec.accelerator, rec.cpus, rec.memory, rec.disk], ['vm', 'qemu', 'running', 'running', 'tcg', 2, 256 * 1024 ** 2, 2 * GiB]);
    assert.equal(rec.hostIds?.runDir, t.paths.run(rec.uuid));
    assert.deepEqual(rec.root, { pool: 'default', volume: `root-${rec.uuid}` });
    const root = t.pool.volumes.get(`root-${rec.uuid}`)!;
    assert.deepEqual([root.kind, root.sizeBytes, root.origin], ['block', 2 * GiB, join(t.paths.images, 'tiny', 'disk.qcow2')]);
    assert.equal((await t.storage.meta('default', 'default', `root-${rec.uuid}`)).attachedTo, 'vm1');
    assert.equal(rec.nics.length, 1);
    assert.match(rec.nics[0]!.address, /^10\.77\.0\.\d+\/24$/);
    assert.deepEqual(rec.nics[0]!.securityGroups, ['default']);
    assert.deepEqual(rec.driverConfig, { id: 2_000_000_000, kind: 'vm-uid' });
    assert.equal((await t.store.list('/vmids/')).length, 1);
    assert.match(t.qemu.host.seeds.get(rec.uuid)!['user-data']!, /ssh-ed25519 AAAA test/);
    assert.ok(t.qemu.host.processes.has(rec.uuid));
    const view = await t.instances.view(rec);
    assert.equal(view.id, rec.uuid);
    assert.equal(view.pid, t.qemu.host.processes.get(rec.uuid)!.pid);
    assert.deepEqual(view.labels, { env: 'test' });
    assert.deepEqual(await t.instances.usersOf('tiny'), ['vm1']);
  } finally {
    await t.done();
  }
});

test('create a container: the runc driver, a filesystem root over the image tree, an id range; --disk is its quota', async () => {
  const t = await coreFixture();
  try {
    const end = await t.wait(await t.instances.create('default', { name: 'ct1', image: 'tiny', type: 'container', pids: 100, start: false }));
    assert.equal(end.status, 'success', JSON.stringify(end.error));
    const rec = await t.repo.record('default', 'ct1');
    assert.deepEqual([rec.type, rec.driver, rec.state, rec.desired?.power, rec.accelerator, rec.disk], ['container', 'runc', 'stopped', 'stopped', 'none', 0]);
    const root = t.pool.volumes.get(`root-${rec.uuid}`)!;
    assert.deepEqual([root.kind, root.sizeBytes, root.origin], ['filesystem', 0, 'new']);
    assert.equal((await t.store.list('/idmaps/')).length, 1);
    assert.equal(t.runc.host.processes.has(rec.uuid), false, 'not started');
    assert.ok(t.runc.host.dirs.has(rec.hostIds!.instanceDir), 'prepared');

    const q = await t.wait(await t.instances.create('default', { name: 'ct2', image: 'tiny', type: 'container', disk: '1GiB' }));
    assert.equal(q.status, 'success', JSON.stringify(q.error));
    const ct2 = await t.repo.record('default', 'ct2');
    assert.equal(ct2.disk, GiB);
    assert.equal(t.pool.volumes.get(`root-${ct2.uuid}`)!.sizeBytes, GiB);
    assert.ok(t.runc.host.processes.has(ct2.uuid));
  } finally {
    await t.done();
  }
});

test('refused creates keep their messages and make nothing', async () => {
  const t = await coreFixture({ pools: { blockonly: { filesystemVolumes: false }, noquota: { quotas: false } } });
  try {
    await t.launch({ name: 'vm1', image: 'tiny' });
    const before = await t.snapshot();
    const calls = t.calls();
    const refusals: [() => Promise<unknown>, string | RegExp][] = [
      [() => t.instances.create('default', { name: 'vm2', image: 'tiny', pids: 10 }), 'pids, cpuWeight, swap and the disk rates are container limits'],
      [() => t.instances.create('default', { name: 'vm2', image: 'tiny', swap: '1G' }), 'pids, cpuWeight, swap and the disk rates are container limits'],
      [() => t.instances.create('default', { name: 'vm2', image: 'tiny', diskReadBps: 1000 }), 'pids, cpuWeight, swap and the disk rates are container limits'],
      [() => t.instances.create('default', { name: 'ct2', image: 'tiny', type: 'container', pool: 'blockonly' }), "pool blockonly has no filesystem volumes: a container's root needs one"],
      [() => t.instances.create('default', { name: 'ct2', image: 'tiny', type: 'container', pool: 'noquota', disk: '1GiB' }),
        "pool noquota (dir driver) cannot limit a container's disk (its filesystem volumes have no quotas); use a btrfs pool, or omit --disk"],
      [() => t.instances.create('default', { name: 'vm2', image: 'tiny', disk: '32MiB' }), `disk 32MiB is smaller than image tiny (${TINY_BYTES / 1024 ** 2}MiB)`],
      [() => t.instances.create('default', { name: 'vm2', image: 'tiny', app: {} }), 'image tiny is not an OCI application image (import one with nimbo image import)'],
      [() => t.instances.create('default', { name: 'vm2', image: 'tiny', pool: 'nope' }), 'storage pool nope not found'],
      [() => t.instances.create('default', { name: 'vm2', image: 'tiny', nics: [{ network: 'nope' }] }), 'network nope not found'],
      [() => t.instances.create('default', { name: 'vm2', image: 'nope' }), /image nope/],
      [() => t.instances.create('default', { name: 'Bad_Name', image: 'tiny' }), /instance name/],
    ];
    for (const [p, message] of refusals) await assert.rejects(p(), typeof message === 'string' ? { message } : message);
    assert.deepEqual(await t.snapshot(), before);
    assert.equal(t.calls().get('qemu.plan'), calls.get('qemu.plan'), 'no driver ids were even asked for');
  } finally {
    await t.done();
  }
});

test('a duplicate name is a 409 and nothing is allocated; of two concurrent creates of one name exactly one wins', async () => {
  const t = await coreFixture();
  try {
    await t.launch({ name: 'vm1', image: 'tiny' });
    const before = await t.snapshot();
    await assert.rejects(t.instances.create('default', { name: 'vm1', image: 'tiny' }), (e: unknown) => e instanceof NimboError && e.code === 'Conflict' && e.message === 'instance vm1 already exists');
    await assert.rejects(t.instances.create('default', { name: 'vm1', image: 'tiny', type: 'container' }), { message: 'instance vm1 already exists' });
    assert.deepEqual(await t.snapshot(), before, 'the ids planned for it were given back');

    const both = await Promise.allSettled([t.instances.create('default', { name: 'twin', image: 'tiny' }), t.instances.create('default', { name: 'twin', image: 'tiny' })]);
    const won = both.filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1);
    assert.equal((await t.wait((won[0] as PromiseFulfilledResult<{ id: string }>).value)).status, 'success');
    assert.equal((await t.store.list('/vmids/')).length, 2, 'the loser gave its QEMU uid back');
  } finally {
    await t.done();
  }
});
