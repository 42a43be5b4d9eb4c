import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyFromFile, keyFromJson, keyToFile, keyToJson, newKey, unwrapKey, wrapKey } from './keyfile.js';

test('a wrapped key unwraps with its passphrase and refuses another one clearly', async () => {
  const k = newKey();
  assert.equal(k.encKey.length, 32);
  assert.equal(k.idKey.length, 32);
  assert.match(k.fingerprint, /^[0-9a-f]{16}$/);
  const w = await wrapKey(k, 'correct horse');
  assert.equal(w.N, 1 << 15);
  assert.equal(w.fingerprint, k.fingerprint);
  const json = JSON.stringify(w);
  assert.ok(!json.includes(k.encKey.toString('base64')) && !json.includes(k.encKey.toString('hex')));
  const back = await unwrapKey(JSON.parse(json), 'correct horse');
  assert.ok(back.encKey.equals(k.encKey) && back.idKey.equals(k.idKey));
  await assert.rejects(unwrapKey(w, 'wrong horse'), (e: Error & { code?: string }) => e.code === 'InvalidArgument' && /wrong passphrase/.test(e.message));
  await assert.rejects(unwrapKey({ ...w, data: Buffer.alloc(64, 1).toString('base64') }, 'correct horse'), /wrong passphrase|altered/);
  await assert.rejects(unwrapKey({ ...w, kdf: 'md5' } as never, 'x'), /malformed/);
  await assert.rejects(wrapKey(k, ''), /empty passphrase/);
});

test('two keys differ, and the fingerprint is not the key', () => {
  const a = newKey();
  const b = newKey();
  assert.notEqual(a.fingerprint, b.fingerprint);
  assert.ok(!a.encKey.toString('hex').includes(a.fingerprint));
});

test('a key file is written 0600, never overwritten, and read back', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nimbo-test-key-'));
  try {
    const k = newKey();
    const f = join(dir, 'store.key');
    await keyToFile(f, k);
    assert.equal((await stat(f)).mode & 0o777, 0o600);
    await assert.rejects(keyToFile(f, newKey()), /EEXIST/);
    const back = await keyFromFile(f);
    assert.equal(back.fingerprint, k.fingerprint);
    assert.ok(back.encKey.equals(k.encKey));
    assert.equal(keyFromJson(await readFile(f, 'utf8')).fingerprint, k.fingerprint);
    assert.throws(() => keyFromJson('{'), /not JSON/);
    assert.throws(() => keyFromJson(keyToJson(k).replace(k.fingerprint, '0000000000000000')), /fingerprint/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
