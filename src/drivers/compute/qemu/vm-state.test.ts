import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attachDisk } from './block-ops.js';
import type { AttachedDisk } from './block-info.js';
import { FakeBlockQemu } from './fake-qmp-block.js';
import { QmpClient } from './qmp.js';
import { deleteVmState, listVmStates, loadVmState, saveVmState } from './vm-state.js';
import {
  collectVmStates, planVmStateDelete, planVmStateLoad, planVmStateSave, snapshotDeleteArgs, snapshotLoadArgs, snapshotSaveArgs,
  validateSnapshotTag,
} from './vm-state-plan.js';

const code = (c: string, re?: RegExp) => (e: unknown) => (e as { code?: string }).code === c && (!re || re.test((e as Error).message));

const disk = (id: string, over: Partial<AttachedDisk> = {}): AttachedDisk => ({
  id, qdev: `/machine/peripheral/disk-${id}/virtio-backend`, nodeName: `d-${id}`, format: 'qcow2', path: `/p/${id}`, readOnly: false,
  virtualSize: 1 << 30, throttle: { iops_rd: 0, iops_wr: 0, bps_rd: 0, bps_wr: 0 }, snapshots: [], ...over,
});
const snap = (name: string, vmStateSize = 0) => ({ name, snapshotId: '1', vmStateSize, dateSec: 100, vmClockNs: 0 });

test('golden: snapshot job arguments; read-only disks are left out, vmstate goes to the first writable disk', () => {
  const disks = [disk('root'), disk('seed', { format: 'raw', readOnly: true }), disk('data'), disk('base', { readOnly: true })];
  const p = planVmStateSave(disks, 'qb-s1');
  assert.deepEqual(p, { vmstateDisk: 'root', vmstateNode: 'd-root', disks: ['root', 'data'], nodes: ['d-root', 'd-data'] });
  assert.deepEqual(snapshotSaveArgs('j1', 'qb-s1', p), { 'job-id': 'j1', tag: 'qb-s1', vmstate: 'd-root', devices: ['d-root', 'd-data'] });
  assert.equal(planVmStateSave(disks, 'qb-s1', 'data').vmstateNode, 'd-data');
  assert.throws(() => planVmStateSave(disks, 'qb-s1', 'seed'), code('InvalidArgument'));
  const after = [disk('root', { snapshots: [snap('qb-s1', 4096)] }), disk('data', { snapshots: [snap('qb-s1')] })];
  const l = planVmStateLoad(after, 'qb-s1', ['data', 'root']);
  assert.deepEqual(snapshotLoadArgs('j2', 'qb-s1', l), { 'job-id': 'j2', tag: 'qb-s1', vmstate: 'd-root', devices: ['d-root', 'd-data'] });
  assert.deepEqual(snapshotDeleteArgs('j3', 'qb-s1', planVmStateDelete(after, 'qb-s1')), { 'job-id': 'j3', tag: 'qb-s1', devices: ['d-root', 'd-data'] });
  assert.deepEqual(collectVmStates(after), [{ tag: 'qb-s1', vmstateDisk: 'root', vmStateSize: 4096, disks: ['root', 'data'], dateSec: 100 }]);
});

test('stateful snapshots refuse writable raw disks, name clashes and mismatched devices', () => {
  const raw = [disk('root'), disk('db', { format: 'raw' })];
  assert.throws(() => planVmStateSave(raw, 'qb-s1'), code('Conflict', /writable disk db \(raw\) is not qcow2.*Detach it, attach it read-only, or convert it to qcow2/));
  assert.throws(() => planVmStateLoad(raw, 'qb-s1'), code('Conflict', /restore refused/));
  assert.throws(() => planVmStateSave([disk('ro', { readOnly: true })], 'qb-s1'), code('Conflict', /no writable qcow2 disk/));
  assert.throws(() => planVmStateSave([disk('root', { snapshots: [snap('qb-s1')] })], 'qb-s1'), code('Conflict', /already exists on disk root/));
  const saved = [disk('root', { snapshots: [snap('qb-s1', 10)] })];
  assert.throws(() => planVmStateLoad([...saved, disk('late')], 'qb-s1'), code('Conflict', /disk late has no snapshot qb-s1/));
  assert.throws(() => planVmStateLoad(saved, 'qb-s1', ['root', 'gone']), code('Conflict', /taken with disks \[gone, root\] but \[root\]/));
  assert.throws(() => planVmStateLoad(saved, 'qb-s2'), code('NotFound'));
  assert.throws(() => planVmStateLoad([disk('root', { snapshots: [snap('qb-s1')] })], 'qb-s1'), code('Conflict', /no RAM state/));
  assert.throws(() => planVmStateDelete(saved, 'nope'), code('NotFound'));
  for (const bad of ['', '12', '-x', 'a b', 'x'.repeat(129), 'a/b']) assert.throws(() => validateSnapshotTag(bad), code('InvalidArgument'), bad);
  validateSnapshotTag('qb-2024-01-01T00:00');
});

test('save / list / load / delete drive the snapshot jobs to conclusion and dismiss them', async () => {
  const fake = new FakeBlockQemu();
  fake.coldDisk('root', 'qcow2', '/p/root.qcow2', 1 << 30);
  fake.coldDisk('seed', 'raw', '/p/seed.iso', 1 << 20, true);
  const srv = await fake.listen();
  const qmp = await QmpClient.connect(srv.path);
  try {
    const saved = await saveVmState(qmp, 'qb-s1');
    assert.deepEqual({ ...saved, durationMs: 0 }, { tag: 'qb-s1', vmstateDisk: 'root', disks: ['root'], vmStateSize: 4096, dateSec: 1000, durationMs: 0 });
    assert.deepEqual(await listVmStates(qmp), [{ tag: 'qb-s1', vmstateDisk: 'root', vmStateSize: 4096, disks: ['root'], dateSec: 1000 }]);
    await assert.rejects(saveVmState(qmp, 'qb-s1'), code('Conflict', /already exists/));
    assert.deepEqual(await loadVmState(qmp, 'qb-s1', { disks: saved.disks }).then((r) => r.running), true);
    // A disk hot-plugged after the save is not part of the snapshot: restore is refused up front.
    await attachDisk(qmp, { id: 'late', path: '/p/late.qcow2', format: 'qcow2' });
    await assert.rejects(loadVmState(qmp, 'qb-s1'), code('Conflict', /disk late has no snapshot/));
    await attachDisk(qmp, { id: 'rawdisk', path: '/p/r.raw', format: 'raw' });
    await assert.rejects(saveVmState(qmp, 'qb-s2'), code('Conflict', /rawdisk \(raw\) is not qcow2/));
    await deleteVmState(qmp, 'qb-s1');
    assert.deepEqual(await listVmStates(qmp), []);
    assert.equal(fake.jobs.size, 0, 'every job was dismissed');
    const jobs = fake.calls.filter((c) => c.cmd.startsWith('snapshot-')).map((c) => [c.cmd, c.args?.tag, c.args?.vmstate, c.args?.devices]);
    assert.deepEqual(jobs, [
      ['snapshot-save', 'qb-s1', 'd-root', ['d-root']],
      ['snapshot-load', 'qb-s1', 'd-root', ['d-root']],
      ['snapshot-delete', 'qb-s1', undefined, ['d-root']],
    ]);
  } finally {
    qmp.close();
    srv.stop();
  }
});

test('a failed job surfaces QEMU\'s error and the VM status', async () => {
  const fake = new FakeBlockQemu();
  fake.coldDisk('root', 'qcow2', '/p/root.qcow2', 1 << 30);
  const srv = await fake.listen();
  const qmp = await QmpClient.connect(srv.path);
  try {
    await saveVmState(qmp, 'qb-s1');
    // Someone removed the snapshot behind our back between planning and loading.
    const orig = fake.handle.bind(fake);
    fake.handle = (cmd, a) => {
      if (cmd === 'snapshot-load') fake.nodes.get('d-root')!.snaps = [];
      if (cmd === 'snapshot-load') fake.running = false;
      return orig(cmd, a);
    };
    await assert.rejects(loadVmState(qmp, 'qb-s1'), code('NotFound', /snapshot-load: Snapshot 'qb-s1' does not exist.*\(the VM is now paused\)/));
    assert.equal(fake.jobs.size, 0);
  } finally {
    qmp.close();
    srv.stop();
  }
});
