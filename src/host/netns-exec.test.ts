import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeExec } from './fake-exec.js';
import { NetnsExec } from './netns-exec.js';

test('NetnsExec prefixes every command with ip netns exec and passes options through', async () => {
  const inner = new FakeExec();
  const e = new NetnsExec('h1', inner);
  await e.run(['nft', '-f', '-'], { input: 'x' });
  assert.deepEqual(inner.calls, [{ argv: ['ip', 'netns', 'exec', 'h1', 'nft', '-f', '-'], input: 'x' }]);
  assert.throws(() => new NetnsExec('-x', inner), /namespace name/);
  assert.throws(() => new NetnsExec('a/b', inner), /namespace name/);
});
