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

test('a failed undo step is logged with its context, never swallowed', async () => {
  const logged: { obj: Record<string, unknown>; msg: string }[] = [];
  const r = new Reverter({ warn: (obj, msg) => logged.push({ obj: obj as Record<string, unknown>, msg }) }, { instance: 'web1' });
  r.add('tap', () => { throw new Error('device busy'); });
  r.add('disk', () => undefined);
  assert.deepEqual(await r.revert(), ['tap: device busy']);
  assert.equal(logged.length, 1);
  assert.deepEqual(logged[0]!.obj, { instance: 'web1', step: 'tap', err: 'device busy' });
  assert.match(logged[0]!.msg, /undo step failed/);
});

test('step() registers the undo a step returns, only once the step succeeded', async () => {
  const done: string[] = [];
  await assert.rejects(
    new Reverter().run(async (r) => {
      assert.equal(await r.step('a', async () => ({ value: 1, undo: () => done.push('undo a') })), 1);
      await r.step('b', async () => {
        throw new Error('b failed');
      });
    }),
    /b failed/,
  );
  assert.deepEqual(done, ['undo a']);
});
