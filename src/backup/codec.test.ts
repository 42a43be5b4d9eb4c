import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { BLOB_HEADER, makeCodec } from './codec.js';
import { newKey } from './keyfile.js';

const text = Buffer.from('nimbo backup '.repeat(50_000));

test('an unkeyed codec: SHA-256 digests, zstd that shrinks, incompressible data stored as is', async () => {
  const c = await makeCodec(null);
  assert.equal(c.compression, 'zstd');
  assert.equal(c.digest(text), createHash('sha256').update(text).digest('hex'));
  const blob = await c.encode(text);
  assert.ok(blob.length < text.length / 10);
  assert.equal(blob.subarray(0, 4).toString(), 'NBCK');
  assert.equal(blob[5]! & 1, 1, 'zstd flag');
  assert.ok((await c.decode(blob)).equals(text));
  const rnd = randomBytes(100_000);
  const rb = await c.encode(rnd);
  assert.equal(rb.length, rnd.length + BLOB_HEADER);
  assert.equal(rb[5], 0);
  assert.ok((await c.decode(rb)).equals(rnd));
  assert.ok((await c.decode(await c.encode(Buffer.alloc(0)))).equals(Buffer.alloc(0)));
});

test('the deflate fallback is flagged and decodes', async () => {
  const c = await makeCodec(null, { compression: 'deflate' });
  const blob = await c.encode(text);
  assert.equal(blob[5], 2);
  assert.ok((await (await makeCodec(null)).decode(blob)).equals(text));
});

test('a keyed codec: HMAC digests, encrypted blobs, another key or a flipped byte refused', async () => {
  const k = newKey();
  const c = await makeCodec(k);
  assert.equal(c.keyFingerprint, k.fingerprint);
  const d = c.digest(text);
  assert.match(d, /^[0-9a-f]{64}$/);
  assert.notEqual(d, createHash('sha256').update(text).digest('hex'));
  const blob = await c.encode(text);
  assert.equal(blob[5]! & 4, 4);
  assert.ok(!blob.includes(Buffer.from('nimbo backup')));
  assert.notDeepEqual(await c.encode(text), blob, 'random IV');
  assert.ok((await c.decode(blob)).equals(text));
  const other = await makeCodec(newKey());
  await assert.rejects(other.decode(blob), /not written with key/);
  const flipped = Buffer.from(blob);
  flipped[flipped.length - 40]! ^= 1;
  await assert.rejects(c.decode(flipped), /altered/);
  await assert.rejects((await makeCodec(null)).decode(blob), /encrypted: the datastore key is needed/);
  await assert.rejects(c.decode(await (await makeCodec(null)).encode(text)), /not encrypted, but this datastore is/);
  await assert.rejects(c.decode(Buffer.from('garbage garbage')), /bad magic/);
});

test('a damaged unencrypted chunk fails to decompress with a clear error', async () => {
  const c = await makeCodec(null);
  const blob = await c.encode(text);
  const bad = Buffer.concat([blob.subarray(0, BLOB_HEADER), Buffer.alloc(50, 7)]);
  await assert.rejects(c.decode(bad), /decompression failed/);
});
