import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { EventBus } from './events.js';
import { silentLogger } from '../lib/log.js';
import { OperationManager } from './operations.js';
import type { Operation } from '../shared/api-types.js';

/** Two "daemons" (OperationManagers) on one SQLite file, each with its own connection. */
async function twoDaemons() {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-locks-'));
  const stores = [new SqliteStore(join(dir, 'db')), new SqliteStore(join(dir, 'db'))];
  const [a, b] = stores.map((s) => new OperationManager(s, new EventBus(), silentLogger())) as [OperationManager, OperationManager];
  return {
    a, b, store: stores[0]!,
    done: async () => {
      await Promise.all([a.drain(), b.drain()]);
      for (const s of stores) await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const gate = () => {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
};
const until = async (cond: () => Promise<boolean>, ms = 5000) => {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 5))) if (await cond()) return;
  throw new Error('condition not met in time');
};

test('two operation managers on one store never run operations on one target at the same time', async () => {
  const t = await twoDaemons();
  try {
    let inside = 0;
    let most = 0;
    const order: string[] = [];
    const body = (tag: string) => async () => {
      most = Math.max(most, ++inside);
      order.push(`${tag}+`);
      await new Promise((r) => setTimeout(r, 30));
      order.push(`${tag}-`);
      inside--;
    };
    const hold = gate();
    const first = await t.a.start('x', 'vm1', async () => { order.push('a0+'); await hold.p; order.push('a0-'); });
    await until(async () => (await t.a.get(first.id)).status === 'running');
    const lock = await t.store.get<{ op: string; daemon: string }>('/locks/vm1');
    assert.equal(lock?.value.op, first.id, 'the lock names its operation');
    assert.equal(lock?.value.daemon, t.a.daemonId);
    const waiting = await t.b.start('y', 'vm1', body('b0'));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await t.b.get(waiting.id)).status, 'pending', 'the other daemon waits for the lock');
    assert.deepEqual(order, ['a0+']);
    // Another target is not held up.
    const other = await t.b.start('z', 'vm2', async () => 'free');
    assert.equal((await t.b.wait(other.id, 5000)).status, 'success');
    hold.open();
    const more = [...Array(3).keys()].flatMap((i) => [t.a.start('p', 'vm1', body(`a${i + 1}`)), t.b.start('q', 'vm1', body(`b${i + 1}`))]);
    const ops = await Promise.all(more);
    for (const op of [waiting, ...ops]) {
      const mgr = op.kind === 'p' ? t.a : t.b;
      assert.equal((await mgr.wait(op.id, 10_000)).status, 'success');
    }
    assert.equal(most, 1, 'never two bodies on vm1 at once');
    assert.equal(order.indexOf('a0-') < order.indexOf('b0+'), true);
    assert.deepEqual(await t.store.list('/locks/'), [], 'every lock was given back');
  } finally {
    await t.done();
  }
});

test('an operation waiting for another daemon\'s lock can be cancelled at once and gives back its reservation', async () => {
  const t = await twoDaemons();
  try {
    const hold = gate();
    const first = await t.a.start('x', 'vm1', () => hold.p);
    await until(async () => (await t.a.get(first.id)).status === 'running');
    let undone = 0;
    let ran = false;
    const op = await t.b.start('y', 'vm1', async () => void (ran = true), { notRun: async () => void undone++ });
    await t.b.cancel(op.id);
    const end = await t.b.wait(op.id, 2000);
    assert.equal(end.status, 'cancelled');
    assert.equal(end.error?.message, 'cancelled before it started');
    assert.equal(undone, 1);
    assert.equal(ran, false);
    assert.equal((await t.a.get(first.id)).status, 'running', 'the holder is untouched');
    hold.open();
    await t.a.wait(first.id, 2000);
  } finally {
    await t.done();
  }
});

test('a lock left by a crashed daemon is dropped at start (recover); the next operation on the target runs', async () => {
  const t = await twoDaemons();
  try {
    const now = new Date().toISOString();
    const crashed: Operation = { id: 'op-crashed', kind: 'instance.start', target: 'vm1', status: 'running', progress: 10, log: [], createdAt: now, updatedAt: now };
    await t.store.put('/operations/op-crashed', crashed);
    await t.store.put('/locks/vm1', { op: 'op-crashed', daemon: 'gone', since: now });
    await t.store.put('/locks/volume/default/data', { op: 'op-missing', daemon: 'gone', since: now });
    await t.a.recover();
    assert.deepEqual(await t.store.list('/locks/'), []);
    assert.equal((await t.a.get('op-crashed')).status, 'failure');
    const op = await t.a.start('instance.stop', 'vm1', async () => 'ran', { locks: ['volume/default/data'] });
    const end = await t.a.wait(op.id, 2000);
    assert.equal(end.status, 'success');
    assert.equal(end.result, 'ran');
  } finally {
    await t.done();
  }
});

test('recover keeps the locks of operations this daemon still runs', async () => {
  const t = await twoDaemons();
  try {
    const hold = gate();
    const op = await t.a.start('x', 'vm1', () => hold.p);
    await until(async () => (await t.a.get(op.id)).status === 'running');
    await t.a.recover();
    assert.equal((await t.store.list('/locks/')).length, 1);
    hold.open();
    await t.a.wait(op.id, 2000);
  } finally {
    await t.done();
  }
});
