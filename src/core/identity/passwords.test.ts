import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPasswordPolicy, dummyHash, hashPassword, verifyPassword } from './passwords.js';

test('a hash describes itself: scrypt, N=2^15 r=8 p=1, a 16-byte salt and a 32-byte key', async () => {
  const h = await hashPassword('correct horse');
  const m = /^scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(h);
  assert.ok(m, h);
  assert.deepEqual([m[1], m[2], m[3]], ['15', '8', '1']);
  assert.equal(Buffer.from(m[4]!, 'base64url').length, 16);
  assert.equal(Buffer.from(m[5]!, 'base64url').length, 32);
  assert.notEqual(await hashPassword('correct horse'), h, 'a fresh salt each time');
});

test('the right password verifies; a wrong one, another case or a prefix does not', async () => {
  const h = await hashPassword('correct horse');
  assert.equal(await verifyPassword('correct horse', h), true);
  assert.equal(await verifyPassword('correct horsE', h), false);
  assert.equal(await verifyPassword('correct hors', h), false);
  assert.equal(await verifyPassword('', h), false);
});

test('a damaged, foreign or too costly hash is refused without an exception (the compare never sees unequal lengths)', async () => {
  const h = await hashPassword('pw-123456');
  const [, params, salt, key] = h.split('$');
  // One byte less of key: timingSafeEqual would throw on unequal lengths; derive() makes the key as long as the stored one.
  const short = `scrypt$${params}$${salt}$${Buffer.from(key!, 'base64url').subarray(0, 31).toString('base64url')}`;
  assert.equal(await verifyPassword('pw-123456', short), false);
  assert.equal(await verifyPassword('pw-123456', h.replace('ln=15', 'ln=30')), false);
  assert.equal(await verifyPassword('pw-123456', h.replace('r=8', 'r=99')), false);
  assert.equal(await verifyPassword('pw-123456', '$2b$10$abcdefghijklmnopqrstuv'), false);
  assert.equal(await verifyPassword('pw-123456', ''), false);
  assert.equal(await verifyPassword('x'.repeat(2000), h), false);
});

test('the dummy hash for unknown users costs a real verification', async () => {
  const d = await dummyHash();
  assert.match(d, /^scrypt\$ln=15,r=8,p=1\$/);
  assert.equal(await verifyPassword('anything', d), false);
});

test('the password policy: 8 to 1024 characters, one clear sentence', () => {
  assert.throws(() => checkPasswordPolicy('short'), /at least 8 characters/);
  assert.throws(() => checkPasswordPolicy('x'.repeat(1025)), /at most 1024 characters/);
  checkPasswordPolicy('long enough');
});
