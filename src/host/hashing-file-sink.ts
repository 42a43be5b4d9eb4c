// A Writable that puts a download's bytes into a file at a position and keeps their sha256: small chunks are
// gathered into large writes (a few per MiB instead of one per 64 KiB socket read), and each write's bytes are
// hashed on the main thread while the thread pool writes them, so hashing and writing overlap.
import type { Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { NimboError } from '../lib/errors.js';

/** Bytes gathered before a write is started (the last write of a transfer may be smaller). */
export const SINK_BATCH_BYTES = 1024 * 1024;

/** The hashing file sink's error for bytes past the cap: the caller turns it into a failure that is not retried. */
export class SinkTooLarge extends NimboError {
  constructor(max: number) {
    super('TooLarge', `the download passed the limit of ${max} bytes: cut off`);
  }
}

/**
 * Writes at `pos` of `fh` and hashes, in order. `pos` and the hash always cover the same bytes, those written to the
 * disk, except after a failed write: then `tainted` is set (the hash may hold bytes the disk lacks) and the caller
 * must start over from byte 0. Chunks gathered but not yet written when the stream is destroyed are dropped.
 */
export class HashingFileSink extends Writable {
  /** Set when a write failed after its bytes were hashed: neither `pos` nor the hash may be resumed from. */
  tainted = false;
  private gathered: Buffer[] = [];
  private gatheredBytes = 0;
  private inflight: Promise<void> = Promise.resolve();

  constructor(private fh: FileHandle, public pos: number, private hash: Hash, private counted: (pos: number) => void, private max: number, private batch = SINK_BATCH_BYTES) {
    super({ highWaterMark: 4 * 1024 * 1024 });
  }

  override _writev(chunks: { chunk: Buffer }[], done: (e?: Error | null) => void): void {
    this.take(chunks.map((c) => c.chunk), done);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.take([chunk], done);
  }

  override _final(done: (e?: Error | null) => void): void {
    this.take([], done, true);
  }

  /** Resolves once no write is in progress. */
  settled(): Promise<void> {
    return this.inflight.catch(() => undefined);
  }

  private take(bufs: Buffer[], done: (e?: Error | null) => void, flush = false): void {
    for (const b of bufs) {
      this.gathered.push(b);
      this.gatheredBytes += b.length;
    }
    if (this.pos + this.gatheredBytes > this.max) return done(new SinkTooLarge(this.max));
    if (!flush && this.gatheredBytes < this.batch) return done();
    const out = this.gathered;
    this.gathered = [];
    this.gatheredBytes = 0;
    this.inflight = this.put(out);
    this.inflight.then(() => done(), done);
  }

  private async put(bufs: Buffer[]): Promise<void> {
    if (bufs.length === 0) return;
    // The write starts first; the hash of the same bytes runs while the thread pool copies them to the file.
    let writing = this.fh.writev(bufs, this.pos);
    for (const b of bufs) this.hash.update(b);
    let left = bufs;
    try {
      for (;;) {
        const { bytesWritten } = await writing;
        if (bytesWritten === 0) throw new Error('the file took none of the bytes written');
        this.pos += bytesWritten;
        left = after(left, bytesWritten);
        if (left.length === 0) break;
        writing = this.fh.writev(left, this.pos);
      }
    } catch (e) {
      this.tainted = true;
      throw e;
    }
    this.counted(this.pos);
  }
}

/** The buffers that remain of `bufs` after its first `n` bytes. Pure. */
export function after(bufs: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < bufs.length && n >= bufs[i]!.length) n -= bufs[i++]!.length;
  if (i === bufs.length) return [];
  return n > 0 ? [bufs[i]!.subarray(n), ...bufs.slice(i + 1)] : bufs.slice(i);
}
