import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from './sqlite-store.js';
import { MIGRATIONS } from './migrations.js';

function withStore(fn: (s: SqliteStore, dir: string) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nimbo-store-'));
    const s = new SqliteStore(join(dir, 'state.db'));
    try {
      await fn(s, dir);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('put/get/list/delete with revisions', withStore(async (s) => {
  const r1 = await s.put('/a/1', { x: 1 });
  const r2 = await s.put('/a/2', { x: 2 });
  await s.put('/b/1', 'other');
  assert.ok(r2 > r1);
  const kv = await s.get<{ x: number }>('/a/1');
  assert.deepEqual(kv?.value, { x: 1 });
  assert.equal(kv?.createRevision, r1);
  assert.equal(kv?.version, 1);
  await s.put('/a/1', { x: 3 });
  const kv2 = await s.get<{ x: number }>('/a/1');
  assert.equal(kv2?.version, 2);
  assert.equal(kv2?.createRevision, r1);
  assert.deepEqual((await s.list('/a/')).map((k) => k.key), ['/a/1', '/a/2']);
  assert.equal(await s.delete('/a/1'), true);
  assert.equal(await s.delete('/a/1'), false);
  assert.equal(await s.get('/a/1'), undefined);
}));

test('compare-and-swap: create-only and expected revision', withStore(async (s) => {
  const rev = await s.put('/k', 1, { expectRevision: 0 });
  await assert.rejects(s.put('/k', 2, { expectRevision: 0 }), /changed concurrently/);
  await assert.rejects(s.put('/k', 2, { expectRevision: rev + 5 }), /changed concurrently/);
  await s.put('/k', 3, { expectRevision: rev });
  assert.equal((await s.get('/k'))?.value, 3);
}));

test('txn is all-or-nothing', withStore(async (s) => {
  const rev = await s.put('/x', 'a');
  const ok = await s.txn([{ key: '/x', modRevision: rev + 1 }], [{ type: 'put', key: '/y', value: 1 }]);
  assert.equal(ok, false);
  assert.equal(await s.get('/y'), undefined);
  const ok2 = await s.txn(
    [{ key: '/x', modRevision: rev }, { key: '/y', modRevision: 0 }],
    [{ type: 'put', key: '/y', value: 1 }, { type: 'delete', key: '/x' }],
  );
  assert.equal(ok2, true);
  assert.equal(await s.get('/x'), undefined);
  assert.equal((await s.get('/y'))?.value, 1);
}));

test('watch sees puts and deletes under its prefix only', withStore(async (s) => {
  const seen: string[] = [];
  const stop = s.watch('/w/', (ev) => seen.push(`${ev.type} ${ev.key}`));
  await s.put('/w/1', 1);
  await s.put('/v/1', 1);
  await s.delete('/w/1');
  stop();
  await s.put('/w/2', 1);
  assert.deepEqual(seen, ['put /w/1', 'delete /w/1']);
}));

test('prefix listing does not leak siblings and survives reopen with migrations', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-store-'));
  try {
    let s = new SqliteStore(join(dir, 'state.db'));
    await s.put('/ab', 1);
    await s.put('/a/b', 2);
    assert.deepEqual((await s.list('/a/')).map((k) => k.key), ['/a/b']);
    const rev = await s.revision();
    await s.close();
    s = new SqliteStore(join(dir, 'state.db'));
    assert.equal(s.schemaVersion(), MIGRATIONS.length);
    assert.equal(await s.revision(), rev);
    assert.equal((await s.get('/ab'))?.value, 1);
    await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
