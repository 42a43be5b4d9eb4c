import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from './sqlite/sqlite-store.js';
import { casUpdate } from './cas.js';
import { conflict, isRevisionConflict, NimboError, RevisionConflict } from '../lib/errors.js';

async function withStore(fn: (s: SqliteStore) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-cas-'));
  const store = new SqliteStore(join(dir, 'db'));
  try {
    await fn(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const tick = () => new Promise((r) => setTimeout(r, 1));

test('20 concurrent casUpdate increments of one key end at 20 (lost races are retried, none is lost)', () =>
  withStore(async (store) => {
    let calls = 0;
    // The await inside fn lets the others read the same revision: most first tries lose the race.
    const inc = () => casUpdate<number>(store, '/counter', async (cur) => (calls++, await tick(), (cur ?? 0) + 1));
    await Promise.all(Array.from({ length: 20 }, inc));
    assert.equal((await store.get<number>('/counter'))!.value, 20);
    assert.ok(calls > 20, `some tries lost and were retried (${calls} calls)`);
  }));

test('the same 20 increments with a plain read-then-write lose updates (what casUpdate prevents)', () =>
  withStore(async (store) => {
    const inc = async () => {
      const cur = (await store.get<number>('/counter'))?.value ?? 0;
      await tick();
      await store.put('/counter', cur + 1);
    };
    await Promise.all(Array.from({ length: 20 }, inc));
    assert.ok((await store.get<number>('/counter'))!.value < 20);
  }));

test('a stale put is a RevisionConflict (code Conflict), told apart from a domain conflict', () =>
  withStore(async (store) => {
    const rev = await store.put('/k', 1);
    await store.put('/k', 2);
    const err = await store.put('/k', 3, { expectRevision: rev }).catch((e: unknown) => e);
    assert.ok(err instanceof RevisionConflict && isRevisionConflict(err));
    assert.equal(err.code, 'Conflict');
    assert.equal(err.message, `/k was changed concurrently (expected revision ${rev})`);
    assert.ok(!isRevisionConflict(conflict('volume p/v is already attached to vm1')));
    await assert.rejects(store.put('/k', 4, { expectRevision: 0 }), RevisionConflict);
  }));

test('a domain error from fn is thrown at once (never retried); undefined writes nothing', () =>
  withStore(async (store) => {
    let calls = 0;
    await assert.rejects(
      casUpdate(store, '/k', () => {
        calls++;
        throw conflict('taken');
      }),
      (e: unknown) => e instanceof NimboError && e.message === 'taken',
    );
    assert.equal(calls, 1);
    assert.equal(await casUpdate(store, '/k', () => undefined), undefined);
    assert.equal(await store.get('/k'), undefined);
    const v = await casUpdate<number>(store, '/k', () => 7);
    assert.deepEqual(v, { value: 7, version: (await store.get('/k'))!.modRevision });
  }));

test('casUpdate gives up with a Conflict after its tries when the key keeps changing', () =>
  withStore(async (store) => {
    let n = 0;
    // Someone else writes the key between every read and write.
    const err = await casUpdate<number>(store, '/k', async (cur) => (await store.put('/k', ++n), (cur ?? 0) + 1), { attempts: 3, baseDelayMs: 1 }).catch((e: unknown) => e);
    assert.ok(err instanceof NimboError && err.code === 'Conflict' && !isRevisionConflict(err), String(err));
    assert.match(err.message, /\/k is being changed by others too often: gave up after 3 tries/);
    assert.equal(n, 3);
  }));
