import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { backupBlock } from './block-backup.js';
import { blockStream, restoreBlockToFile } from './block-restore.js';
import { makeCodec } from './codec.js';
import { newKey } from './keyfile.js';
import { prng } from '../lib/prng.js';
import { BufferBlockReader } from './testing/buffer-reader.js';
import { tempStore } from './testing/temp-store.js';
import { WriterRegistry } from './writer-registry.js';

const MiB = 1024 * 1024;
const CS = 1 * MiB;

/** A 12.5 MiB disk: text, random, zero holes, a repeated chunk, and a short last chunk. */
function makeDisk(): Buffer {
  const disk = Buffer.alloc(12 * MiB + 512 * 1024);
  const r = prng(7);
  disk.write('hello disk '.repeat(200_000), 0);
  for (let i = 2 * MiB; i < 4 * MiB; i++) disk[i] = Math.floor(r() * 256);
  // 4..7 MiB stays zero; 7 MiB repeats chunk 2
  disk.copy(disk, 7 * MiB, 2 * MiB, 3 * MiB);
  disk.fill(0x5a, 9 * MiB + 100, 9 * MiB + 300);
  for (let i = 12 * MiB; i < disk.length; i++) disk[i] = i & 0xff;
  return disk;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('full backup -> restore to a sparse file is bit-identical; zero chunks are neither read nor stored', async () => {
  const { ds, root, cleanup } = await tempStore();
  try {
    const codec = await makeCodec(null);
    const disk = makeDisk();
    const reader = new BufferBlockReader(disk);
    const w = new WriterRegistry().begin();
    const progress: number[] = [];
    const { index, stats } = await backupBlock(ds, codec, reader, { chunkSize: CS, writer: w, onProgress: (d) => progress.push(d) });
    assert.equal(index.digests.length, 13);
    assert.deepEqual(index.digests.slice(4, 7), [null, null, null]);
    assert.equal(index.digests[7], index.digests[2], 'a repeated chunk is stored once');
    assert.equal(stats.chunksZero, 6, 'chunks 4,5,6,8,10,11 are all zero');
    assert.equal(stats.chunksNew, 13 - 6 - 1);
    assert.equal(stats.chunksReused, 1);
    assert.ok(reader.bytesRead < disk.length - 3 * MiB, 'zero extents were not read');
    assert.equal(stats.bytesRead, reader.bytesRead);
    assert.equal(progress.at(-1), disk.length);
    assert.equal((await ds.usage()).chunks, 6);
    for (const d of index.digests) if (d) assert.ok(w.digests.has(d), 'every referenced digest was claimed');

    const out = join(root, 'restored.raw');
    await writeFile(out, 'old content that must go');
    await restoreBlockToFile(ds, codec, index, out);
    const back = await readFile(out);
    assert.equal(sha(back), sha(disk));
    const st = await stat(out);
    assert.ok(st.blocks * 512 < disk.length - 3 * MiB, `restored file is sparse (${st.blocks * 512} bytes allocated)`);
    const streamed: Buffer[] = [];
    for await (const c of blockStream(ds, codec, index)) streamed.push(c as Buffer);
    assert.equal(sha(Buffer.concat(streamed)), sha(disk));
  } finally {
    await cleanup();
  }
});

test('incremental with a dirty map reads only the dirty bytes and restores identically', async () => {
  const { ds, root, cleanup } = await tempStore();
  try {
    const codec = await makeCodec(null);
    const disk = makeDisk();
    const reg = new WriterRegistry();
    const full = await backupBlock(ds, codec, new BufferBlockReader(disk), { chunkSize: CS, writer: reg.begin() });
    // Change 64 KiB inside chunk 0, 64 KiB inside chunk 3, and zero out chunk 12 (the short one).
    const dirty: [number, number][] = [[128 * 1024, 64 * 1024], [3 * MiB + 64 * 1024, 64 * 1024], [12 * MiB, 512 * 1024]];
    randomBytes(64 * 1024).copy(disk, 128 * 1024);
    randomBytes(64 * 1024).copy(disk, 3 * MiB + 64 * 1024);
    disk.fill(0, 12 * MiB);
    const reader = new BufferBlockReader(disk, dirty);
    const inc = await backupBlock(ds, codec, reader, { chunkSize: CS, prev: { index: full.index }, writer: reg.begin() });
    assert.equal(reader.bytesRead, 128 * 1024, 'only the dirty non-zero bytes were read');
    assert.equal(inc.stats.chunksNew, 2);
    assert.equal(inc.index.digests[12], null);
    for (const i of [1, 2, 7, 9, 10, 11]) assert.equal(inc.index.digests[i], full.index.digests[i]);
    const out = join(root, 'inc.raw');
    await restoreBlockToFile(ds, codec, inc.index, out);
    assert.equal(sha(await readFile(out)), sha(disk));
  } finally {
    await cleanup();
  }
});

test('an incremental whose base chunk was lost reads that chunk in full instead of referencing it', async () => {
  const { ds, root, cleanup } = await tempStore();
  try {
    const codec = await makeCodec(null);
    const disk = makeDisk();
    const reg = new WriterRegistry();
    const full = await backupBlock(ds, codec, new BufferBlockReader(disk), { chunkSize: CS, writer: reg.begin() });
    const { rm } = await import('node:fs/promises');
    await rm(ds.chunkPath(full.index.digests[1]!));
    await rm(ds.chunkPath(full.index.digests[0]!));
    disk[5] = 0x99;
    const reader = new BufferBlockReader(disk, [[0, 64 * 1024]]);
    const inc = await backupBlock(ds, codec, reader, { chunkSize: CS, prev: { index: full.index }, writer: reg.begin() });
    assert.equal(reader.bytesRead, 2 * MiB, 'chunk 0 (dirty, base lost) and chunk 1 (clean, lost) read in full');
    const out = join(root, 'x.raw');
    await restoreBlockToFile(ds, codec, inc.index, out);
    assert.equal(sha(await readFile(out)), sha(disk));
  } finally {
    await cleanup();
  }
});

test('an encrypted store round-trips; a codec of another key refuses its chunks', async () => {
  const key = newKey();
  const { ds, root, cleanup } = await tempStore({ keyFingerprint: key.fingerprint });
  try {
    const codec = await makeCodec(key);
    const disk = makeDisk();
    const { index } = await backupBlock(ds, codec, new BufferBlockReader(disk), { chunkSize: CS, writer: new WriterRegistry().begin() });
    const raw = await readFile(ds.chunkPath(index.digests[0]!));
    assert.ok(!raw.includes(Buffer.from('hello disk')), 'chunks are encrypted at rest');
    const out = join(root, 'enc.raw');
    await restoreBlockToFile(ds, codec, index, out);
    assert.equal(sha(await readFile(out)), sha(disk));
    await assert.rejects(restoreBlockToFile(ds, await makeCodec(newKey()), index, join(root, 'other.raw')), /not written with key/);
    await assert.rejects(text(blockStream(ds, await makeCodec(null), index)), /key is needed/);
  } finally {
    await cleanup();
  }
});

test('a cancelled backup stops with Cancelled', async () => {
  const { ds, cleanup } = await tempStore();
  try {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(
      backupBlock(ds, await makeCodec(null), new BufferBlockReader(makeDisk()), { chunkSize: CS, writer: new WriterRegistry().begin(), signal: ac.signal }),
      /cancelled/,
    );
  } finally {
    await cleanup();
  }
});
