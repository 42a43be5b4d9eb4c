import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Operation } from '../shared/api-types.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { EventBus } from './events.js';
import { silentLogger } from '../lib/log.js';
import { OperationManager } from './operations.js';
import { pageOf, prunable } from './operation-history.js';
import { PAGE_DEFAULT as OPS_PAGE_DEFAULT, PAGE_MAX as OPS_PAGE_MAX } from './paging.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
function op(i: number, status: Operation['status'] = 'success', ageMs = 0): Operation {
  const at = new Date(T0 + i * 1000).toISOString();
  return { id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, kind: 'k', target: 't', status, progress: 100, log: [], createdAt: at, updatedAt: new Date(T0 + i * 1000 - ageMs).toISOString() };
}

test('prunable keeps the newest N finished and every running one, and drops those past the TTL', () => {
  const ops = [op(1, 'running'), op(2), op(3), op(4, 'pending'), op(5), op(6), op(7, 'failure')];
  const now = T0 + 10_000;
  // keep 2: the finished ones are 7, 6, 5, 3, 2 (newest first); 5, 3, 2 go; 1 and 4 are running/pending.
  assert.deepEqual(prunable(ops, { keep: 2, ttlMs: 3600_000 }, now).sort(), [op(2).id, op(3).id, op(5).id].sort());
  // TTL 6 s: finished ones last updated more than 6 s before now (2 and 3) go, whatever the count.
  assert.deepEqual(prunable(ops, { keep: 100, ttlMs: 6000 }, now).sort(), [op(2).id, op(3).id].sort());
  // A very old running operation is never pruned.
  assert.deepEqual(prunable([op(1, 'running', 1e9)], { keep: 0, ttlMs: 1 }, now), []);
});

test('pageOf walks every operation once, newest first, with a next cursor until the end', () => {
  const ops = Array.from({ length: 25 }, (_, i) => op(i));
  const seen: string[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const p = pageOf(ops, 10, after);
    seen.push(...p.operations.map((o) => o.id));
    after = p.next;
    pages++;
  } while (after);
  assert.equal(pages, 3);
  assert.deepEqual(seen, ops.map((o) => o.id).reverse());
  assert.equal(pageOf(ops).operations.length, 25);
  assert.equal(pageOf(Array.from({ length: OPS_PAGE_DEFAULT + 5 }, (_, i) => op(i))).operations.length, OPS_PAGE_DEFAULT);
  // A cursor stays valid when its own operation was pruned meanwhile.
  const first = pageOf(ops, 5);
  const rest = pageOf(ops.filter((o) => o.id !== first.operations[4]!.id), 5, first.next);
  assert.equal(rest.operations[0]!.id, ops[19]!.id);
  assert.throws(() => pageOf(ops, OPS_PAGE_MAX + 1), /limit must be 1-1000/);
  assert.throws(() => pageOf(ops, 0), /limit/);
  assert.throws(() => pageOf(ops, 10, 'bogus'), /cursor/);
});

test('the operation manager prunes its history as operations end, without a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-opshist-'));
  const store = new SqliteStore(join(dir, 'db'));
  const ops = new OperationManager(store, new EventBus(), silentLogger(), { keep: 5, ttlMs: 3600_000 });
  try {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const long = await ops.start('long', 'other', () => held);
    for (let i = 0; i < 45; i++) await ops.wait((await ops.start('quick', `t${i}`, async () => undefined)).id, 5000);
    await ops.prune();
    const all = await ops.list();
    assert.ok(all.length <= 6, `history holds ${all.length} operations`);
    assert.ok(all.some((o) => o.id === long.id && o.status === 'running'), 'the running operation is kept');
    const page = await ops.page(2);
    assert.equal(page.operations.length, 2);
    assert.ok(page.next);
    release();
    await ops.wait(long.id, 5000);
  } finally {
    await ops.drain();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
