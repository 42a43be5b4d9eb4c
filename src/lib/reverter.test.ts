import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reverter } from './reverter.js';

test('undo steps run in reverse on failure and not on success', async () => {
  const done: string[] = [];
  await assert.rejects(
    new Reverter().run(async (r) => {
      r.add('a', () => done.push('undo a'));
      r.add('b', async () => done.push('undo b'));
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.deepEqual(done, ['undo b', 'undo a']);
  done.length = 0;
  assert.equal(await new Reverter().run(async (r) => { r.add('a', () => done.push('x')); return 7; }), 7);
  assert.deepEqual(done, []);
});

test('a failing undo does not stop the others', async () => {
  const r = new Reverter();
  const done: string[] = [];
  r.add('a', () => done.push('a'));
  r.add('b', () => { throw new Error('nope'); });
  assert.deepEqual(await r.revert(), ['b: nope']);
  assert.deepEqual(done, ['a']);
});
