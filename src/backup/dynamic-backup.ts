// Backup of a byte stream (e.g. a tar of a container's root tree) into content-defined chunks, and reading it back
// whole or by byte range (fetching only the chunks the range touches).
import type { Readable } from 'node:stream';
import { Readable as ReadableStream } from 'node:stream';
import { NimboError, invalid } from '../lib/errors.js';
import { CdcChunker, DEFAULT_CDC, type CdcParams } from './chunker-cdc.js';
import type { ChunkCodec } from './codec.js';
import type { Datastore } from './datastore.js';
import type { DynamicIndex } from './index-format.js';
import type { BackupStats } from './manifest.js';
import { prefetchChunks } from './block-restore.js';
import { checkSignal } from './pool.js';
import type { BackupWriter } from './writer-registry.js';

/** Options of backupStream. */
export interface StreamBackupOptions {
  /** Claims every digest the index will reference; end it after the snapshot is committed. */
  writer: BackupWriter;
  signal?: AbortSignal;
  /** Bytes consumed so far (the total is unknown for a stream). */
  onProgress?(doneBytes: number): void;
  cdc?: CdcParams;
  /** Chunks hashed/compressed/written at once (default 3). */
  concurrency?: number;
}

/** Back up a stream into `ds`: its dynamic index and stats. */
export async function backupStream(ds: Datastore, codec: ChunkCodec, input: Readable, opts: StreamBackupOptions): Promise<{ index: DynamicIndex; stats: BackupStats }> {
  const started = Date.now();
  const chunker = new CdcChunker(opts.cdc ?? DEFAULT_CDC);
  const entries: DynamicIndex['entries'] = [];
  const stats: BackupStats = { bytesRead: 0, bytesNew: 0, chunksNew: 0, chunksReused: 0, seconds: 0 };
  const inflight = new Set<Promise<void>>();
  let failure: unknown = null;
  const limit = opts.concurrency ?? 3;

  const store = async (i: number, plain: Buffer) => {
    const d = codec.digest(plain);
    entries[i]!.digest = d;
    await opts.writer.claim(d);
    if (await ds.touchChunk(d)) {
      stats.chunksReused++;
      return;
    }
    const blob = await codec.encode(plain);
    if (await ds.insertChunk(d, blob)) {
      stats.chunksNew++;
      stats.bytesNew += blob.length;
    } else stats.chunksReused++;
  };
  const submit = async (chunk: Buffer) => {
    stats.bytesRead += chunk.length;
    const i = entries.push({ end: stats.bytesRead, digest: '' }) - 1;
    // The chunker's chunks may share its buffer: copy, since a chunk outlives this call in the pipeline.
    const p = store(i, Buffer.from(chunk)).catch((e) => void (failure ??= e));
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
    while (inflight.size >= limit) await Promise.race(inflight);
    if (failure) throw failure;
    opts.onProgress?.(stats.bytesRead);
  };

  try {
    for await (const data of input) {
      checkSignal(opts.signal);
      const buf = typeof data === 'string' ? Buffer.from(data) : (data as Buffer);
      for (const c of chunker.push(buf)) await submit(c);
    }
    for (const c of chunker.finish()) await submit(c);
  } finally {
    await Promise.allSettled([...inflight]);
  }
  if (failure) throw failure;
  stats.seconds = (Date.now() - started) / 1000;
  return { index: { size: stats.bytesRead, entries }, stats };
}

/** The stream of a dynamic index, whole or the bytes [offset, offset+length), reading only the chunks needed. */
export function dynamicStream(
  ds: Datastore,
  codec: ChunkCodec,
  index: DynamicIndex,
  range?: { offset: number; length: number },
  opts: { signal?: AbortSignal; prefetch?: number } = {},
): Readable {
  const from = range?.offset ?? 0;
  const to = range ? range.offset + range.length : index.size;
  if (!Number.isSafeInteger(from) || from < 0 || !Number.isSafeInteger(to) || to < from || to > index.size) {
    throw invalid(`byte range ${from}..${to} is outside the archive (${index.size} bytes)`);
  }
  // First chunk whose end is past `from` (binary search: ends increase).
  let lo = 0;
  let hi = index.entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (index.entries[mid]!.end <= from) lo = mid + 1;
    else hi = mid;
  }
  let last = lo;
  while (last < index.entries.length && (last === lo || index.entries[last - 1]!.end < to)) last++;
  const slice = index.entries.slice(lo, last);
  async function* gen() {
    if (to === from) return;
    let i = 0;
    for await (const chunk of prefetchChunks(ds, codec, slice.map((e) => e.digest), opts.prefetch ?? 4, opts.signal)) {
      const e = slice[i]!;
      const start = lo + i === 0 ? 0 : index.entries[lo + i - 1]!.end;
      if (!chunk || chunk.length !== e.end - start) throw new NimboError('Internal', `chunk ${e.digest} has the wrong length for its index entry`);
      const a = Math.max(from, start) - start;
      const b = Math.min(to, e.end) - start;
      if (b > a) yield chunk.subarray(a, b);
      i++;
    }
  }
  return ReadableStream.from(gen(), { objectMode: false, highWaterMark: 1 });
}
