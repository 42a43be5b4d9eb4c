// Browser uploads of disk images: the body streams to a file in the images dir, never into memory. What a
// tenant can make big is capped twice: refused before the first byte when Content-Length is missing, above
// the daemon's limit (--upload-max) or above the free space; and counted while it streams, cut (the file
// deleted) the moment it passes what it declared.
import { createWriteStream } from 'node:fs';
import { rm, statfs } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NimboError } from '../lib/errors.js';
import { formatSize } from '../lib/validate.js';

/** The default cap on one upload (daemon flag --upload-max). */
export const UPLOAD_MAX_BYTES = 16 * 1024 ** 3;

/** The size an upload may have (its Content-Length), or why it is refused before a byte is written. Pure. */
export function uploadSize(contentLength: string | undefined, maxBytes: number, freeBytes: number): number {
  if (contentLength === undefined || contentLength === '') throw new NimboError('LengthRequired', 'an upload must declare its size in Content-Length (a chunked body is not accepted)');
  if (!/^[0-9]{1,16}$/.test(contentLength)) throw new NimboError('InvalidArgument', `Content-Length ${JSON.stringify(contentLength.slice(0, 40))} is not a number of bytes`);
  const size = Number(contentLength);
  if (size === 0) throw new NimboError('InvalidArgument', 'the upload is empty: send the disk image (qcow2 or raw) as the body');
  if (size > maxBytes) throw new NimboError('TooLarge', `the upload is ${size} bytes (${formatSize(size)}), above this daemon's limit of ${maxBytes} bytes (${formatSize(maxBytes)}; nimbo daemon --upload-max)`);
  if (size > freeBytes) throw new NimboError('TooLarge', `the upload is ${size} bytes (${formatSize(size)}), but the images filesystem has only ${freeBytes} bytes (${formatSize(freeBytes)}) free`);
  return size;
}

/** Free bytes for an unprivileged writer on the filesystem of `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/** A pass-through that fails once more than `limit` bytes went through it. */
export function byteLimit(limit: number, counted: (n: number) => void = () => undefined): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      n += chunk.length;
      counted(n);
      if (n > limit) return done(new NimboError('TooLarge', `the upload sent more than the ${limit} bytes its Content-Length declared: cut off`));
      done(null, chunk);
    },
  });
}

/**
 * Stream `body` into a new file `file` (mode 0600), exactly `size` bytes: more is cut at once, fewer (the client
 * went away) fails; either way the file is deleted. Returns the byte count.
 */
export async function receiveUpload(body: Readable, file: string, size: number): Promise<number> {
  let got = 0;
  const out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
  try {
    await pipeline(body, byteLimit(size, (n) => (got = n)), out);
    if (got !== size) throw new NimboError('InvalidArgument', `the upload ended after ${got} of the ${size} bytes its Content-Length declared`);
    return got;
  } catch (e) {
    // Only a file this call made: a name that existed (wx refused it) is someone else's.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new NimboError('Conflict', `${file} exists already`);
    // The file may still be opening when the body fails: remove it once the stream let go of it.
    if (!out.closed) await new Promise<void>((done) => out.once('close', () => done())); // (events.once would reject on its 'error')
    await rm(file, { force: true });
    if (e instanceof NimboError) throw e;
    // The client closed the connection mid-body (ECONNRESET, aborted): say so in one sentence.
    throw new NimboError('InvalidArgument', `the upload broke off after ${got} of ${size} bytes (${(e as Error).message})`);
  }
}
