import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { prng } from '../lib/prng.js';
import { CdcChunker, DEFAULT_CDC, cutPoint, type CdcParams } from './chunker-cdc.js';

function data(n: number, seed: number): Buffer {
  const r = prng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE(Math.floor(r() * 0x100000000), i);
  return b;
}

function chunkAll(buf: Buffer, p: CdcParams, pieces = [buf.length]): Buffer[] {
  const c = new CdcChunker(p);
  const out: Buffer[] = [];
  let pos = 0;
  let k = 0;
  while (pos < buf.length) {
    const n = Math.min(pieces[k++ % pieces.length]!, buf.length - pos);
    out.push(...c.push(buf.subarray(pos, pos + n)));
    pos += n;
  }
  out.push(...c.finish());
  return out;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const SMALL: CdcParams = { min: 2048, avg: 8192, max: 32768 };

test('chunks cover the input, sizes stay within bounds and average near the target', () => {
  const buf = data(4 * 1024 * 1024, 1);
  const chunks = chunkAll(buf, SMALL);
  assert.ok(Buffer.concat(chunks).equals(buf));
  for (const c of chunks.slice(0, -1)) assert.ok(c.length >= SMALL.min && c.length <= SMALL.max, `size ${c.length}`);
  const avg = buf.length / chunks.length;
  assert.ok(avg > SMALL.avg * 0.6 && avg < SMALL.avg * 1.6, `average ${avg}`);
});

test('cut points do not depend on how the stream was split into pushes', () => {
  const buf = data(1024 * 1024, 2);
  const whole = chunkAll(buf, SMALL).map(sha);
  assert.deepEqual(chunkAll(buf, SMALL, [1, 7, 4096, 100_000, 33]).map(sha), whole);
  assert.deepEqual(chunkAll(buf, SMALL, [65536]).map(sha), whole);
});

test('boundaries are content-defined: bytes inserted at the front change only the first chunks', () => {
  const buf = data(2 * 1024 * 1024, 3);
  const a = chunkAll(buf, SMALL).map(sha);
  const b = chunkAll(Buffer.concat([Buffer.from('inserted bytes at the front'), buf]), SMALL).map(sha);
  const shared = b.filter((d) => a.includes(d)).length;
  assert.ok(shared >= a.length - 2, `${shared} of ${a.length} chunks survive the insert`);
  // A fixed-size chunker would share none of them after a 27-byte shift.
});

test('default sizes (256 KiB / 1 MiB / 4 MiB) on 24 MiB', () => {
  const buf = data(24 * 1024 * 1024, 4);
  const chunks = chunkAll(buf, DEFAULT_CDC, [1 << 20]);
  assert.ok(Buffer.concat(chunks).equals(buf));
  for (const c of chunks.slice(0, -1)) assert.ok(c.length >= DEFAULT_CDC.min && c.length <= DEFAULT_CDC.max);
  assert.ok(chunks.length >= 10 && chunks.length <= 60, `${chunks.length} chunks`);
  const b = chunkAll(Buffer.concat([Buffer.alloc(1000, 1), buf]), DEFAULT_CDC).map(sha);
  const shared = b.filter((d) => chunks.map(sha).includes(d)).length;
  assert.ok(shared >= chunks.length - 2);
});

test('all-zero data is cut at max; a short tail is one chunk; bad bounds are refused', () => {
  const z = Buffer.alloc(100_000);
  assert.equal(cutPoint(z, 0, z.length, SMALL), SMALL.max);
  assert.deepEqual(chunkAll(Buffer.alloc(100), SMALL).map((c) => c.length), [100]);
  assert.throws(() => new CdcChunker({ min: 10, avg: 5, max: 20 }), /min < avg < max/);
});
