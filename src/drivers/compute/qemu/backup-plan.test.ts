import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backupDisks, bitmapsOfImageInfo, bitmapsOfNode, checkBackupRequest, planDisk, staleBitmaps } from './backup-plan.js';

const req = { baseBitmaps: { root: 'nimbo-s1-b1', 'p/raw1': 'nimbo-s1-b1' }, newBitmap: 'nimbo-s1-b2', bitmapPrefix: 'nimbo-s1-' };
const q = { id: 'root', format: 'qcow2' as const };
const bm = (name: string, recording = true, inconsistent = false) => ({ name, recording, inconsistent });

test('planDisk: a recording, consistent base -> incremental; inconsistent ones of this store removed', () => {
  assert.deepEqual(planDisk(q, [bm('nimbo-s1-b1'), bm('other'), bm('nimbo-s1-old', true, true)], req), { mode: 'incremental', base: 'nimbo-s1-b1', merge: [], remove: ['nimbo-s1-old'], addNew: true });
});

test('planDisk: full with a reason when the base is missing, inconsistent, or disabled without followers; raw never has bitmaps', () => {
  assert.match(planDisk(q, [bm('other')], req).reason!, /bitmap nimbo-s1-b1 is missing on disk root/);
  const inc = planDisk(q, [bm('nimbo-s1-b1', true, true)], req);
  assert.deepEqual([inc.mode, inc.remove], ['full', ['nimbo-s1-b1']]);
  assert.match(inc.reason!, /inconsistent \(QEMU did not close the image cleanly/);
  assert.match(planDisk(q, [bm('nimbo-s1-b1', false)], req).reason!, /stopped recording/);
  const raw = planDisk({ id: 'p/raw1', format: 'raw' }, [], req);
  assert.deepEqual([raw.mode, raw.addNew], ['full', false]);
  assert.match(raw.reason!, /disk p\/raw1 is raw/);
  assert.deepEqual(planDisk({ id: 'p/v', format: 'qcow2' }, [], req), { mode: 'full', merge: [], remove: [], addNew: true }, 'no base asked: full, no reason');
  assert.throws(() => planDisk(q, [bm('nimbo-s1-b2')], req), /already has a bitmap nimbo-s1-b2/);
});

test('planDisk: a base disabled by an interrupted backup is repaired by merging the bitmaps that backup started', () => {
  assert.deepEqual(planDisk(q, [bm('nimbo-s1-b1', false), bm('nimbo-s1-bx'), bm('foreign')], req), { mode: 'incremental', base: 'nimbo-s1-b1', merge: ['nimbo-s1-bx'], remove: [], addNew: true });
});

test('bitmaps from qemu-img info and query-named-block-nodes; stale ones; node names; request checks', () => {
  const info = { 'format-specific': { type: 'qcow2', data: { bitmaps: [{ name: 'a', flags: ['auto'] }, { name: 'b', flags: ['in-use', 'auto'] }, { name: 'c', flags: [] }] } } };
  assert.deepEqual(bitmapsOfImageInfo(info), [bm('a'), bm('b', true, true), bm('c', false)]);
  assert.deepEqual(bitmapsOfImageInfo({ format: 'raw' }), []);
  const nodes = [{ 'node-name': 'f-root' }, { 'node-name': 'd-root', image: { 'virtual-size': 1024 }, 'dirty-bitmaps': [{ name: 'x', recording: false, inconsistent: true }] }];
  assert.deepEqual(bitmapsOfNode(nodes, 'd-root'), { bitmaps: [bm('x', false, true)], size: 1024 });
  assert.equal(bitmapsOfNode(nodes, 'd-nope'), undefined);
  assert.deepEqual(staleBitmaps([bm('nimbo-s1-b1'), bm('nimbo-s1-b2'), bm('nimbo-s2-b1')], req), ['nimbo-s1-b1']);
  const disks = backupDisks({ root: { pool: 'd', volume: 'r', path: '/r.qcow2', format: 'qcow2' }, volumes: [{ pool: 'p', volume: 'v', path: '/v.qcow2', format: 'qcow2', limits: { iopsRead: 0, iopsWrite: 0, bytesRead: 0, bytesWrite: 0 } }, { pool: 'p', volume: 'fs', path: '/fs', limits: { iopsRead: 0, iopsWrite: 0, bytesRead: 0, bytesWrite: 0 } }] });
  assert.deepEqual(disks.map((d) => [d.id, d.node, d.fleeceNode]), [['root', 'd-root', 'fl-root'], ['p/v', disks[1]!.node, `fl-${disks[1]!.node.slice(2)}`]]);
  assert.ok(disks.every((d) => d.fleeceNode.length <= 31));
  assert.throws(() => checkBackupRequest({ ...req, newBitmap: '-o x' }), /invalid bitmap name/);
  assert.throws(() => checkBackupRequest({ ...req, bitmapPrefix: 'other-' }), /must be a safe name that starts the new bitmap/);
  checkBackupRequest(req);
});
