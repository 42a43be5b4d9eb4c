import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coreFixture, type CoreFixture } from './testing/core-fixture.js';
import type { InstanceSnapshot } from './instance-snapshots.js';

const ok = async (t: CoreFixture, op: Promise<{ id: string }>) => {
  const end = await t.wait(await op);
  assert.equal(end.status, 'success', JSON.stringify(end.error));
  return end;
};

test('VM snapshots are the driver\'s disk-image snapshots: create, list, restore while stopped, delete', async () => {
  const t = await coreFixture();
  try {
    const vm = await t.launch({ name: 'vm1', image: 'tiny', start: false });
    await ok(t, t.snapshots.create('default', 'vm1', { name: 's1' }));
    await assert.rejects(t.snapshots.create('default', 'vm1', { name: 's1' }), { message: 'snapshot s1 of vm1 already exists' });
    const s1 = await t.snapshots.get('default', 'vm1', 's1');
    assert.equal(s1.kind, undefined, 'a disk-image snapshot');
    assert.equal(s1.stateful, false);
    assert.deepEqual(s1.disks, [{ id: 'root', path: `${t.pool.spec.path}/root-${vm.uuid}` }]);
    assert.ok(t.qemu.host.snapshots.get(vm.uuid)?.has('s1'));
    assert.equal(t.pool.journal.filter((j) => j.method === 'createSnapshot').length, 0, 'no pool snapshot');
    assert.deepEqual((await t.snapshots.list('default', 'vm1')).map((s) => s.name), ['s1']);
    await ok(t, t.snapshots.restore('default', 'vm1', 's1'));
    assert.deepEqual(t.qemu.callsOf('restoreSnapshot').map((c) => c.detail), [{ name: 's1' }]);
    await ok(t, t.snapshots.remove('default', 'vm1', 's1'));
    assert.equal(t.qemu.host.snapshots.has(vm.uuid), false);
    assert.deepEqual(await t.snapshots.list('default', 'vm1'), []);
    await assert.rejects(t.snapshots.get('default', 'vm1', 's1'), { message: 'snapshot s1 of instance vm1 not found' });
  } finally {
    await t.done();
  }
});

test('VM restore rules: disk-only needs it stopped; stateful needs it running and brings it back running', async () => {
  const t = await coreFixture();
  try {
    const vm = await t.launch({ name: 'vm1', image: 'tiny', start: false });
    await assert.rejects(t.snapshots.create('default', 'vm1', { name: 'st', stateful: true }), { message: "instance vm1 is not running: a stateful snapshot saves a running VM's memory" });
    await ok(t, t.actions.act('default', 'vm1', 'start'));
    await ok(t, t.snapshots.create('default', 'vm1', { name: 'disk' }));
    await ok(t, t.snapshots.create('default', 'vm1', { name: 'st', stateful: true }));
    assert.equal((await t.snapshots.get('default', 'vm1', 'st')).stateful, true);
    await assert.rejects(t.snapshots.restore('default', 'vm1', 'disk'), { message: 'instance vm1 is running: stop it to restore a disk-only snapshot (or take a --stateful one)' });
    await ok(t, t.actions.act('default', 'vm1', 'stop', { force: true }));
    assert.equal(t.qemu.host.processes.has(vm.uuid), false);
    await ok(t, t.snapshots.restore('default', 'vm1', 'st'));
    assert.ok(t.qemu.host.processes.has(vm.uuid), 'started to restore the saved state');
    const rec = await t.repo.record('default', 'vm1');
    assert.equal(rec.state, 'running');
    assert.equal(rec.desired?.power, 'running', 'it stays running: the reconciler keeps the desired state');
  } finally {
    await t.done();
  }
});

test('container snapshots are pool snapshots of its root and attached volumes; stateful refused', async () => {
  const t = await coreFixture();
  try {
    await t.pool.createVolume({ name: 'files', kind: 'filesystem', sizeBytes: 0 });
    const ct = await t.launch({ name: 'ct1', image: 'tiny', type: 'container' });
    await ok(t, t.volumes.attach('default', 'ct1', 'default', 'files', '/data'));
    await assert.rejects(t.snapshots.create('default', 'ct1', { name: 'st', stateful: true }), {
      message: 'ct1 is a container: containers have no stateful snapshots (saving processes would need CRIU); take a disk-only snapshot',
    });
    await ok(t, t.snapshots.create('default', 'ct1', { name: 's1' }));
    const s1: InstanceSnapshot = await t.snapshots.get('default', 'ct1', 's1');
    assert.equal(s1.kind, 'volume');
    assert.deepEqual(s1.volumes, [{ pool: 'default', volume: `root-${ct.uuid}` }, { pool: 'default', volume: 'files' }]);
    assert.ok(t.pool.volumes.get(`root-${ct.uuid}`)!.snapshots.has('s1'));
    assert.ok(t.pool.volumes.get('files')!.snapshots.has('s1'));
    await assert.rejects(t.snapshots.restore('default', 'ct1', 's1'), { message: 'container ct1 is running: stop it to restore a snapshot' });
    await ok(t, t.actions.act('default', 'ct1', 'stop'));
    await ok(t, t.snapshots.restore('default', 'ct1', 's1'));
    assert.equal(t.pool.volumes.get(`root-${ct.uuid}`)!.restores, 1);
    assert.equal(t.pool.volumes.get('files')!.restores, 1);
    await ok(t, t.snapshots.remove('default', 'ct1', 's1'));
    assert.equal(t.pool.volumes.get(`root-${ct.uuid}`)!.snapshots.size, 0);
    assert.equal(t.pool.volumes.get('files')!.snapshots.size, 0);
    assert.deepEqual(await t.snapshots.list('default', 'ct1'), []);
  } finally {
    await t.done();
  }
});

test('a container on a pool without filesystem snapshots: its snapshot is refused before anything is taken', async () => {
  const t = await coreFixture({ pools: { plain: { filesystemSnapshots: false, filesystemLinkedClones: false } } });
  try {
    const ct = await t.launch({ name: 'ct1', image: 'tiny', type: 'container', pool: 'plain' });
    await assert.rejects(t.snapshots.create('default', 'ct1', { name: 's1' }), { message: `pool plain has no snapshots of volume root-${ct.uuid}` });
    assert.equal(t.pools.get('plain')!.journal.filter((j) => j.method === 'createSnapshot').length, 0);
    assert.deepEqual(await t.store.list('/snapshots/'), []);
  } finally {
    await t.done();
  }
});

test('a failed snapshot leaves no snapshot record', async () => {
  const t = await coreFixture();
  try {
    await t.launch({ name: 'vm1', image: 'tiny', start: false });
    t.qemu.failAt('snapshot');
    const end = await t.wait(await t.snapshots.create('default', 'vm1', { name: 's1' }));
    assert.equal(end.status, 'failure');
    assert.deepEqual(await t.store.list('/snapshots/'), []);
    await ok(t, t.snapshots.create('default', 'vm1', { name: 's1' }));
  } finally {
    await t.done();
  }
});
