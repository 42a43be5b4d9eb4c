import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { spawnArgv, spawnPiped } from './spawn.js';

test('spawnArgv never goes through a shell: metacharacters reach the program as they are', async () => {
  const child = spawnPiped(['printf', '%s', '$HOME; echo hi | cat']);
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const [code] = await once(child, 'close');
  assert.equal(code, 0);
  assert.equal(out, '$HOME; echo hi | cat');
});

test('spawnPiped talks over stdin and stdout; an empty argv is refused', async () => {
  const child = spawnPiped(['cat']);
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stdin.end('ping\n');
  await once(child, 'close');
  assert.equal(out, 'ping\n');
  assert.throws(() => spawnArgv([]), /empty argv/);
});
