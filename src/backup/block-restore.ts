// Restore of a fixed index: to a sparse raw file (zero chunks and zero blocks left as holes) or as a stream.
import { open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { NimboError } from '../lib/errors.js';
import type { ChunkCodec } from './codec.js';
import type { Datastore } from './datastore.js';
import { isZero, zeros } from './block-backup.js';
import type { FixedIndex } from './index-format.js';
import { checkSignal } from './pool.js';

/** Options of restores and streams. */
export interface RestoreOptions {
  /** Chunks fetched and decoded ahead (default 4). */
  prefetch?: number;
  onProgress?(doneBytes: number, totalBytes: number): void;
  signal?: AbortSignal;
}

/** Read and decode one chunk, checking its digest (a restore must be bit-identical or fail). */
export async function loadChunk(ds: Datastore, codec: ChunkCodec, digest: string): Promise<Buffer> {
  const plain = await codec.decode(await ds.readChunk(digest));
  if (codec.digest(plain) !== digest) throw new NimboError('Internal', `chunk ${digest} is corrupt (its digest does not match); run a verify`, { digest });
  return plain;
}

/** The decoded chunks of `digests` in order (null stays null), fetching up to `window` ahead. */
export async function* prefetchChunks(ds: Datastore, codec: ChunkCodec, digests: (string | null)[], window = 4, signal?: AbortSignal): AsyncGenerator<Buffer | null> {
  const pending: Promise<Buffer | null>[] = [];
  let next = 0;
  const fill = () => {
    while (pending.length < window && next < digests.length) {
      const d = digests[next++]!;
      const p = d === null ? Promise.resolve(null) : loadChunk(ds, codec, d);
      p.catch(() => undefined); // handled when awaited in order
      pending.push(p);
    }
  };
  fill();
  while (pending.length > 0) {
    checkSignal(signal);
    const b = await pending.shift()!;
    fill();
    yield b;
  }
}

/** Write the disk of `index` to `path`: a regular file is created sparse; a block device gets every byte. */
export async function restoreBlockToFile(ds: Datastore, codec: ChunkCodec, index: FixedIndex, path: string, opts: RestoreOptions = {}): Promise<void> {
  const st = await stat(path).catch(() => null);
  const regular = !st || st.isFile();
  const fh = await open(path, regular ? 'w' : 'r+');
  try {
    if (regular) await fh.truncate(index.size);
    const block = 64 * 1024;
    let i = 0;
    for await (const chunk of prefetchChunks(ds, codec, index.digests, opts.prefetch ?? 4, opts.signal)) {
      const off = i * index.chunkSize;
      const len = Math.min(index.chunkSize, index.size - off);
      if (chunk && chunk.length !== len) throw new NimboError('Internal', `chunk ${i} of the index has ${chunk.length} bytes, expected ${len}`);
      if (!regular) await fh.write(chunk ?? zeros(len), 0, len, off);
      else if (chunk) {
        // Only non-zero runs are written: a file truncated to size reads zeros in the holes.
        for (let s = 0; s < len; ) {
          while (s < len && isZero(chunk.subarray(s, Math.min(len, s + block)))) s += block;
          let e = s;
          while (e < len && !isZero(chunk.subarray(e, Math.min(len, e + block)))) e += block;
          e = Math.min(e, len);
          if (e > s) await fh.write(chunk, s, e - s, off + s);
          s = e;
        }
      }
      i++;
      opts.onProgress?.(Math.min(index.size, off + len), index.size);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The raw disk of `index` as a stream (for export), decoding a few chunks ahead. */
export function blockStream(ds: Datastore, codec: ChunkCodec, index: FixedIndex, opts: RestoreOptions = {}): Readable {
  async function* gen() {
    let i = 0;
    for await (const chunk of prefetchChunks(ds, codec, index.digests, opts.prefetch ?? 4, opts.signal)) {
      const len = Math.min(index.chunkSize, index.size - i * index.chunkSize);
      // A fresh zero buffer per hole: consumers may keep or modify what they get.
      yield chunk ?? Buffer.alloc(len);
      i++;
    }
  }
  return Readable.from(gen(), { objectMode: false, highWaterMark: 1 });
}
