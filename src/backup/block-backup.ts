// Backup of one disk into fixed chunks (default 4 MiB). Zero extents are never read; an incremental reuses the
// previous digest of every clean chunk without reading it, and for a partly dirty chunk reads only the dirty
// extents and overlays them on the previous chunk from the store. Chunks run through a bounded pipeline so reads,
// SHA-256 and zstd (on libuv's pool) overlap while only a few chunks are in memory.
import type { BlockExtent, BlockReader } from '../shared/backup-source.js';
import type { ChunkCodec } from './codec.js';
import type { Datastore } from './datastore.js';
import type { FixedIndex } from './index-format.js';
import type { BackupStats } from './manifest.js';
import { checkSignal, runBounded } from './pool.js';
import type { BackupWriter } from './writer-registry.js';

/** Default chunk size of disk backups. */
export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;

/** Options of backupBlock. */
export interface BlockBackupOptions {
  /** The index of the previous backup of this disk; used only when the reader's extents carry exact dirty flags. */
  prev?: { index: FixedIndex } | null;
  chunkSize?: number;
  concurrency?: number;
  onProgress?(doneBytes: number, totalBytes: number): void;
  signal?: AbortSignal;
  /** Claims every digest the index will reference (GC safety); end it after the snapshot is committed. */
  writer: BackupWriter;
}

/** Result of a disk backup: its index and counters (seconds included). */
export interface BlockBackupResult {
  index: FixedIndex;
  stats: BackupStats & { chunksZero: number };
}

let zeroBuf = Buffer.alloc(0);
/** A shared all-zero buffer of at least `n` bytes (never written to). */
export function zeros(n: number): Buffer {
  if (zeroBuf.length < n) zeroBuf = Buffer.alloc(n);
  return zeroBuf.subarray(0, n);
}

/** True when `buf` is all zero bytes (memcmp against a zero buffer). */
export function isZero(buf: Buffer): boolean {
  return buf.equals(zeros(buf.length));
}

/** Merge adjacent extents that are treated alike (read, or not), to read fewer, larger runs. */
function runs(exts: BlockExtent[], want: (e: BlockExtent) => boolean): { offset: number; length: number }[] {
  const out: { offset: number; length: number }[] = [];
  for (const e of exts) {
    if (!want(e)) continue;
    const last = out[out.length - 1];
    if (last && last.offset + last.length === e.offset) last.length += e.length;
    else out.push({ offset: e.offset, length: e.length });
  }
  return out;
}

/** Back up every chunk of `reader` into `ds`; returns the fixed index and stats. */
export async function backupBlock(ds: Datastore, codec: ChunkCodec, reader: BlockReader, opts: BlockBackupOptions): Promise<BlockBackupResult> {
  const started = Date.now();
  const cs = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const size = reader.size;
  const count = Math.ceil(size / cs);
  const prev = opts.prev?.index && opts.prev.index.chunkSize === cs ? opts.prev.index : null;
  const digests: (string | null)[] = new Array(count).fill(null);
  const readBefore = reader.bytesRead;
  const stats = { bytesRead: 0, bytesNew: 0, chunksNew: 0, chunksReused: 0, chunksZero: 0, seconds: 0 };
  let done = 0;

  // The previous chunk i, if it covers exactly the same bytes (a resized disk changes the last one).
  const prevDigest = (i: number, len: number): string | null | undefined => {
    if (!prev || i >= prev.digests.length) return undefined;
    return Math.min(cs, prev.size - i * cs) === len ? prev.digests[i] : undefined;
  };

  const readFull = async (off: number, len: number, exts: BlockExtent[]): Promise<Buffer> => {
    const parts = runs(exts, (e) => !e.zero);
    if (parts.length === 1 && parts[0]!.length === len) return reader.read(off, len);
    const buf = Buffer.alloc(len);
    for (const p of parts) (await reader.read(p.offset, p.length)).copy(buf, p.offset - off);
    return buf;
  };

  const store = async (plain: Buffer): Promise<string | null> => {
    if (isZero(plain)) {
      stats.chunksZero++;
      return null;
    }
    const d = codec.digest(plain);
    await opts.writer.claim(d);
    if (await ds.touchChunk(d)) {
      stats.chunksReused++;
      return d;
    }
    const blob = await codec.encode(plain);
    if (await ds.insertChunk(d, blob)) {
      stats.chunksNew++;
      stats.bytesNew += blob.length;
    } else stats.chunksReused++;
    return d;
  };

  const chunk = async (i: number): Promise<void> => {
    checkSignal(opts.signal);
    const off = i * cs;
    const len = Math.min(cs, size - off);
    const exts = await reader.extents(off, len);
    const pd = prevDigest(i, len);
    if (exts.every((e) => e.zero)) {
      stats.chunksZero++;
      digests[i] = null;
    } else if (pd !== undefined && !exts.some((e) => e.dirty)) {
      // Clean since the previous backup: its chunk is reused unread (if GC has not taken it meanwhile).
      if (pd === null) {
        stats.chunksZero++;
        digests[i] = null;
      } else {
        await opts.writer.claim(pd);
        if (await ds.touchChunk(pd)) {
          stats.chunksReused++;
          digests[i] = pd;
        } else digests[i] = await store(await readFull(off, len, exts));
      }
    } else if (pd !== undefined && exts.some((e) => !e.dirty && !e.zero)) {
      // Partly dirty: the previous chunk plus the dirty extents; zero extents are filled, never read.
      const base = await basePlain(ds, codec, pd, len);
      if (base === null) digests[i] = await store(await readFull(off, len, exts));
      else {
        for (const e of exts) if (e.zero) base.fill(0, e.offset - off, e.offset - off + e.length);
        for (const p of runs(exts, (e) => e.dirty && !e.zero)) (await reader.read(p.offset, p.length)).copy(base, p.offset - off);
        digests[i] = await store(base);
      }
    } else digests[i] = await store(await readFull(off, len, exts));
    done += len;
    opts.onProgress?.(done, size);
  };

  await runBounded(count, opts.concurrency ?? 4, chunk, opts.signal);
  stats.bytesRead = reader.bytesRead - readBefore;
  stats.seconds = (Date.now() - started) / 1000;
  return { index: { chunkSize: cs, size, digests }, stats };
}

/** The previous chunk's plaintext as a private copy, or null when it is missing or unreadable (then read it all). */
async function basePlain(ds: Datastore, codec: ChunkCodec, digest: string | null, len: number): Promise<Buffer | null> {
  if (digest === null) return Buffer.alloc(len);
  try {
    const plain = await codec.decode(await ds.readChunk(digest));
    if (plain.length !== len) return null;
    return Buffer.from(plain);
  } catch {
    return null;
  }
}
