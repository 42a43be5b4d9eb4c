import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NimboError } from '../lib/errors.js';
import { attachFixture } from './testing/attach-fixture.js';
import { lockTarget } from '../store/keys.js';

test('20 concurrent attaches of one volume to 20 instances: exactly one wins, 19 get an immediate 409', async () => {
  const t = await attachFixture(20);
  try {
    const results = await Promise.allSettled(t.names.map((n) => t.volumes.attach('default', n, 'default', 'data')));
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ name: t.names[i]!, op: r.value }] : []));
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1, 'exactly one attach request is accepted');
    assert.equal(lost.length, 19);
    const winner = won[0]!.name;
    for (const r of lost) {
      assert.ok(r.reason instanceof NimboError && r.reason.code === 'Conflict', String(r.reason));
      assert.equal(r.reason.message, `volume default/data is already attached to ${winner}`);
    }
    const end = await t.ops.wait(won[0]!.op.id, 5000);
    assert.equal(end.status, 'success', JSON.stringify(end.error));
    assert.equal((await t.storage.meta('default', 'default', 'data')).attachedTo, winner);
    for (const n of t.names) {
      const vols = (await t.svc.record('default', n)).volumes ?? [];
      assert.deepEqual(vols, n === winner ? [{ pool: 'default', volume: 'data' }] : [], `volumes of ${n}`);
    }
    // The losers started no operation at all.
    assert.equal((await t.ops.list()).filter((o) => o.kind === 'instance.volume.attach').length, 1);
    assert.deepEqual(await t.store.list('/locks/'), [], 'the operation gave its locks back');
  } finally {
    await t.done();
  }
});

test('a failed attach gives its claim back; a detach releases it for the next instance', async () => {
  const t = await attachFixture(2, { failPatchFor: 'vm0' });
  try {
    const op = await t.volumes.attach('default', 'vm0', 'default', 'data');
    assert.equal((await t.storage.meta('default', 'default', 'data')).attachedTo, 'vm0', 'claimed before the operation ran');
    const end = await t.ops.wait(op.id, 5000);
    assert.equal(end.status, 'failure');
    assert.equal((await t.storage.meta('default', 'default', 'data')).attachedTo, null, 'claim given back');
    const ok = await t.ops.wait((await t.volumes.attach('default', 'vm1', 'default', 'data')).id, 5000);
    assert.equal(ok.status, 'success', JSON.stringify(ok.error));
    await assert.rejects(t.volumes.attach('default', 'vm0', 'default', 'data'), /volume default\/data is already attached to vm1/);
    const det = await t.ops.wait((await t.volumes.detach('default', 'vm1', 'default', 'data')).id, 5000);
    assert.equal(det.status, 'success', JSON.stringify(det.error));
    assert.equal((await t.storage.meta('default', 'default', 'data')).attachedTo, null);
    assert.deepEqual((await t.svc.record('default', 'vm1')).volumes, []);
  } finally {
    await t.done();
  }
});

test('an attach cancelled while it waits for its instance gives the claim back', async () => {
  const t = await attachFixture(1);
  try {
    let release!: () => void;
    // Operations on an instance lock its UUID.
    const busy = await t.ops.start('hold', 'vm0', () => new Promise<void>((r) => (release = r)), { lockAs: `instance/${(await t.svc.record('default', 'vm0')).uuid}` });
    const op = await t.volumes.attach('default', 'vm0', 'default', 'data');
    assert.equal((await t.storage.meta('default', 'default', 'data')).attachedTo, 'vm0');
    await t.ops.cancel(op.id);
    release();
    assert.equal((await t.ops.wait(busy.id, 5000)).status, 'success');
    const end = await t.ops.wait(op.id, 5000);
    assert.equal(end.status, 'cancelled');
    assert.equal((await t.storage.meta('default', 'default', 'data')).attachedTo, null);
    assert.deepEqual((await t.svc.record('default', 'vm0')).volumes, []);
  } finally {
    await t.done();
  }
});

test('a volume delete accepted before a concurrent attach is refused under the volume lock; the attach wins', async () => {
  const t = await attachFixture(1);
  try {
    let release!: () => void;
    const busy = await t.ops.start('hold', lockTarget.volume('default', 'default', 'data'), () => new Promise<void>((r) => (release = r)));
    const del = await t.storage.deleteVolume('default', 'default', 'data'); // detached now: accepted, waits for the lock
    const att = await t.volumes.attach('default', 'vm0', 'default', 'data'); // claims it meanwhile
    release();
    await t.ops.wait(busy.id, 5000);
    const d = await t.ops.wait(del.id, 5000);
    assert.equal(d.status, 'failure');
    assert.match(d.error?.message ?? '', /volume default\/data is attached to vm0: detach it before you delete it/);
    assert.deepEqual(t.deleted, [], 'nothing was deleted');
    assert.equal((await t.ops.wait(att.id, 5000)).status, 'success');
    assert.equal((await t.storage.meta('default', 'default', 'data')).attachedTo, 'vm0');
  } finally {
    await t.done();
  }
});
