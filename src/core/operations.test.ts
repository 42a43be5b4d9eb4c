import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { EventBus } from './events.js';
import { silentLogger } from '../lib/log.js';
import { OperationManager } from './operations.js';
import { invalid } from '../lib/errors.js';

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-ops-'));
  const store = new SqliteStore(join(dir, 'db'));
  const bus = new EventBus();
  const ops = new OperationManager(store, bus, silentLogger());
  return { dir, store, bus, ops, done: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
}

test('an operation records progress, log and result', async () => {
  const t = await setup();
  const events: string[] = [];
  t.bus.subscribe((e) => events.push(`${(e.data as { status: string }).status}`));
  const op = await t.ops.start('build', 'img', async (ctx) => {
    ctx.progress(40, 'half way');
    return { ok: 1 };
  });
  const end = await t.ops.wait(op.id, 5000);
  assert.equal(end.status, 'success');
  assert.equal(end.progress, 100);
  assert.deepEqual(end.log, ['half way']);
  assert.deepEqual(end.result, { ok: 1 });
  assert.ok(events.includes('running') && events.at(-1) === 'success');
  await t.done();
});

test('ended operations are told to listeners with their seconds; a throwing listener changes nothing', async () => {
  const t = await setup();
  const seen: string[] = [];
  t.ops.onEnded(() => {
    throw new Error('a broken listener');
  });
  t.ops.onEnded((op, seconds) => seen.push(`${op.kind} ${op.status} ${op.status === 'success' ? seconds >= 0.05 && seconds < 5 : seconds >= 0}`));
  const ok = await t.ops.start('build', 'img', async () => new Promise((r) => setTimeout(r, 60)));
  const bad = await t.ops.start('build', 'img2', async () => { throw invalid('no'); });
  assert.equal((await t.ops.wait(ok.id, 5000)).status, 'success');
  assert.equal((await t.ops.wait(bad.id, 5000)).status, 'failure');
  assert.deepEqual(seen.sort(), ['build failure true', 'build success true']);
  await t.done();
});

test('a failing operation keeps the error code and message', async () => {
  const t = await setup();
  const op = await t.ops.start('x', 'y', async () => { throw invalid('bad thing'); });
  const end = await t.ops.wait(op.id, 5000);
  assert.equal(end.status, 'failure');
  assert.deepEqual(end.error, { code: 'InvalidArgument', message: 'bad thing' });
  await t.done();
});

test('operations on one target run in order; cancel aborts', async () => {
  const t = await setup();
  const order: string[] = [];
  const a = await t.ops.start('a', 'vm1', async (ctx) => {
    order.push('a-start');
    await new Promise((r) => setTimeout(r, 50));
    ctx.checkCancelled();
    order.push('a-end');
  });
  const b = await t.ops.start('b', 'vm1', async () => { order.push('b'); });
  await t.ops.wait(b.id, 5000);
  assert.deepEqual(order, ['a-start', 'a-end', 'b']);
  assert.equal((await t.ops.get(a.id)).status, 'success');

  const c = await t.ops.start('c', 'vm2', async (ctx) => {
    await new Promise((r) => setTimeout(r, 100));
    ctx.checkCancelled();
  });
  await new Promise((r) => setTimeout(r, 10));
  await t.ops.cancel(c.id);
  assert.equal((await t.ops.wait(c.id, 5000)).status, 'cancelled');
  await t.done();
});

test('wait returns the running record after its timeout', async () => {
  const t = await setup();
  let release!: () => void;
  const op = await t.ops.start('slow', 'z', () => new Promise<void>((r) => (release = r)));
  const mid = await t.ops.wait(op.id, 30);
  assert.equal(mid.status, 'running');
  release();
  assert.equal((await t.ops.wait(op.id, 5000)).status, 'success');
  await t.done();
});

test('recover marks operations of a dead daemon as failed', async () => {
  const t = await setup();
  await t.store.put('/operations/old', { id: 'old', kind: 'k', target: 't', status: 'running', progress: 5, log: [], createdAt: 'x', updatedAt: 'x' });
  await t.ops.recover();
  const op = await t.ops.get('old');
  assert.equal(op.status, 'failure');
  assert.match(op.error!.message, /daemon stopped/);
  await t.done();
});
