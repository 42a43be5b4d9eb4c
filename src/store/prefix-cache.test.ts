import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from './sqlite/sqlite-store.js';
import { PrefixCache } from './prefix-cache.js';

test('PrefixCache: lists once, then follows puts, deletes and transactions under its prefix only; values are copies', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-prefix-cache-'));
  const store = new SqliteStore(join(dir, 'state.db'));
  try {
    await store.put('/a/1', { n: 1 });
    await store.put('/b/1', { n: 9 });
    const cache = new PrefixCache<{ n: number }>(store, '/a/');
    assert.deepEqual(await cache.values(), [{ n: 1 }]);
    const obj = { n: 2 };
    await store.put('/a/2', obj);
    obj.n = 99; // the writer changes its object after the put
    await store.txn([], [{ type: 'put', key: '/a/0', value: { n: 0 } }, { type: 'delete', key: '/a/1' }, { type: 'put', key: '/b/2', value: { n: 8 } }]);
    assert.deepEqual(await cache.values(), [{ n: 0 }, { n: 2 }]);
    await store.delete('/a/0');
    assert.deepEqual(await cache.values(), [{ n: 2 }]);
    // With a view: made once per change, from the key and the value; a fresh cache agrees with a fresh list.
    const viewed = new PrefixCache<{ n: number }, string>(store, '/a/', (k, v) => `${k}=${v.n}`);
    assert.deepEqual(await viewed.values(), (await store.list<{ n: number }>('/a/')).map((kv) => `${kv.key}=${kv.value.n}`));
    await store.put('/a/3', { n: 3 });
    assert.deepEqual(await viewed.values(), ['/a/2=2', '/a/3=3']);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
