import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLocks } from './locks.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

test('the same key serialises; different keys run side by side', async () => {
  const log: string[] = [];
  const job = (keys: string[], name: string) => withLocks(keys, async () => {
    log.push(`${name}+`);
    await tick();
    log.push(`${name}-`);
  });
  await Promise.all([job(['a'], 'x'), job(['a'], 'y'), job(['b'], 'z')]);
  assert.deepEqual(log.slice(0, 2), ['x+', 'z+']);
  assert.ok(log.indexOf('y+') > log.indexOf('x-'));
});

test('multi-key jobs in opposite orders do not deadlock; a throw releases the locks', async () => {
  await Promise.all([withLocks(['a', 'b'], tick), withLocks(['b', 'a'], tick)]);
  await assert.rejects(withLocks(['a'], async () => { throw new Error('boom'); }), /boom/);
  assert.equal(await withLocks(['a'], async () => 42), 42);
});
