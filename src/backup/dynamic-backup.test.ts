import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { prng } from '../lib/prng.js';
import { makeCodec } from './codec.js';
import { backupStream, dynamicStream } from './dynamic-backup.js';
import { tempStore } from './testing/temp-store.js';
import { WriterRegistry } from './writer-registry.js';

const P = { min: 4096, avg: 16384, max: 65536 };

function data(n: number, seed: number): Buffer {
  const r = prng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = r() < 0.5 ? Math.floor(r() * 256) : 32;
  return b;
}

const pieces = (b: Buffer, n: number) => Readable.from(Array.from({ length: Math.ceil(b.length / n) }, (_, i) => b.subarray(i * n, (i + 1) * n)));

test('a stream backs up into CDC chunks, reads back whole and by range, and dedups a shifted copy', async () => {
  const { ds, cleanup } = await tempStore();
  try {
    const codec = await makeCodec(null);
    const reg = new WriterRegistry();
    const src = data(1_000_000, 9);
    const seen: number[] = [];
    const { index, stats } = await backupStream(ds, codec, pieces(src, 10_000), { writer: reg.begin(), cdc: P, onProgress: (d) => seen.push(d) });
    assert.equal(index.size, src.length);
    assert.equal(index.entries.at(-1)!.end, src.length);
    assert.equal(stats.bytesRead, src.length);
    assert.equal(seen.at(-1), src.length);
    assert.ok(stats.chunksNew > 10);
    assert.ok((await buffer(dynamicStream(ds, codec, index))).equals(src));
    for (const [o, l] of [[0, 1], [12345, 100_000], [src.length - 10, 10], [500_000, 0], [0, src.length]] as const) {
      assert.ok((await buffer(dynamicStream(ds, codec, index, { offset: o, length: l }))).equals(src.subarray(o, o + l)), `range ${o}+${l}`);
    }
    assert.throws(() => dynamicStream(ds, codec, index, { offset: src.length, length: 1 }), /outside the archive/);

    const shifted = Buffer.concat([Buffer.from('a new file at the front'), src]);
    const again = await backupStream(ds, codec, pieces(shifted, 7777), { writer: reg.begin(), cdc: P });
    assert.ok(again.stats.chunksNew <= 2, `${again.stats.chunksNew} new chunks after a small insert`);
    assert.ok((await buffer(dynamicStream(ds, codec, again.index))).equals(shifted));
  } finally {
    await cleanup();
  }
});

test('an empty stream gives an empty index; a failing input fails the backup', async () => {
  const { ds, cleanup } = await tempStore();
  try {
    const codec = await makeCodec(null);
    const w = new WriterRegistry().begin();
    const { index } = await backupStream(ds, codec, Readable.from([]), { writer: w });
    assert.deepEqual(index, { size: 0, entries: [] });
    assert.equal((await buffer(dynamicStream(ds, codec, index))).length, 0);
    const bad = new Readable({ read() { this.destroy(new Error('tar failed')); } });
    await assert.rejects(backupStream(ds, codec, bad, { writer: w }), /tar failed/);
  } finally {
    await cleanup();
  }
});
