import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EventBus } from '../core/events.js';
import { silentLogger } from '../lib/log.js';
import { OperationManager } from '../core/operations.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { settledWithin, shutdownWithin } from './shutdown.js';

test('settledWithin: true when the work ends in time (even by failing), false when it does not', async () => {
  assert.equal(await settledWithin(Promise.resolve(1), 1000), true);
  assert.equal(await settledWithin(Promise.reject(new Error('x')), 1000), true);
  const t0 = Date.now();
  assert.equal(await settledWithin(new Promise(() => {}), 150), false);
  assert.ok(Date.now() - t0 < 1000);
});

test('shutdown ends within the timeout while an operation hangs, and still releases', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-shutdown-'));
  const store = new SqliteStore(join(dir, 'db'));
  const ops = new OperationManager(store, new EventBus(), silentLogger());
  // An operation that never ends, like a host command stuck in D state.
  const op = await ops.start('image.build', 'stuck', () => new Promise(() => {}));
  assert.equal((await ops.wait(op.id, 50)).status, 'running');
  const released: string[] = [];
  const t0 = Date.now();
  const drained = await shutdownWithin(
    {
      drain: () => ops.drain(),
      release: async () => {
        released.push('store');
        await store.close();
      },
    },
    300,
    silentLogger(),
  );
  const ms = Date.now() - t0;
  assert.equal(drained, false);
  assert.deepEqual(released, ['store']);
  assert.ok(ms >= 290 && ms < 2000, `took ${ms} ms`);
  rmSync(dir, { recursive: true, force: true });
});

test('shutdown waits for a drain that finishes in time', async () => {
  const order: string[] = [];
  const drained = await shutdownWithin(
    {
      drain: async () => {
        await new Promise((r) => setTimeout(r, 50));
        order.push('drained');
      },
      release: async () => void order.push('released'),
    },
    5000,
    silentLogger(),
  );
  assert.equal(drained, true);
  assert.deepEqual(order, ['drained', 'released']);
});

test('a failing drain or release does not stop the shutdown', async () => {
  const drained = await shutdownWithin({ drain: () => Promise.reject(new Error('close failed')), release: () => Promise.reject(new Error('db busy')) }, 1000, silentLogger());
  assert.equal(drained, true);
});
