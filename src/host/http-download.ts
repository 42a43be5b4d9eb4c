// HTTP(S) downloads into a file: streamed (never held in memory), redirects followed (a few), a cut transfer
// resumed with Range + If-Range, capped in size, a sha256 of exactly what reached the disk, cancelled by a signal.
import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NimboError, invalid } from '../lib/errors.js';
import { parseContentRange } from './http-range.js';

/** The URL of a download if nimbo may fetch it (http or https, no user:password@); InvalidArgument otherwise. Pure. */
export function checkDownloadUrl(raw: string, what = 'URL'): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw invalid(`${what} ${JSON.stringify(raw.slice(0, 200))} is not a valid URL (expected http:// or https://...)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid(`${what} ${JSON.stringify(raw.slice(0, 200))}: only http:// and https:// URLs are fetched, not ${u.protocol}`);
  if (u.username || u.password) throw invalid(`${what} must not carry a user or password (user:password@host): give a URL without credentials`);
  if (!u.hostname) throw invalid(`${what} ${JSON.stringify(raw.slice(0, 200))} has no host`);
  u.hash = '';
  return u;
}

/** A URL as it may be shown or recorded: no query (a signed URL's query is a secret). Pure. */
export function redactUrl(u: URL): string {
  return `${u.origin}${u.pathname}${u.search ? '?…' : ''}`;
}

/** Options of download(). */
export interface DownloadOptions {
  /** Request headers (e.g. authorization); sent to the first URL's origin only, never after a redirect elsewhere. */
  headers?: Record<string, string>;
  /** PEM certificate(s) of the CA to trust for https (instead of the built-in list), e.g. another nimbod's own CA. */
  ca?: string;
  /** The most bytes the file may have: refused at once when the server announces more, cut when it sends more. */
  maxBytes: number;
  signal?: AbortSignal;
  /** How many times a cut transfer is resumed before it fails (default 4). */
  retries?: number;
  /** Redirects followed per request (default 5). */
  maxRedirects?: number;
  /** Bytes on disk so far, and the total when known. */
  progress?: (bytes: number, total: number | undefined) => void;
  /** A request with no data for this long is cut (and resumed) (default 60 s). */
  idleTimeoutMs?: number;
  /** Pause before the n-th resume: n × this (default 500 ms). */
  retryDelayMs?: number;
  /** Told about each resume. */
  onResume?: (from: number, why: string) => void;
}

/** What download() got. */
export interface DownloadResult {
  bytes: number;
  /** sha256 (hex) of the file's bytes. */
  sha256: string;
  /** How many times a cut transfer was resumed (or restarted). */
  resumes: number;
}

/** A failure that another try will not fix. */
class Fatal extends Error {
  constructor(readonly err: NimboError) {
    super(err.message);
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** One GET, redirects followed; the final response (status 2xx) and URL. */
async function get(start: URL, o: DownloadOptions, extra: Record<string, string>): Promise<{ res: IncomingMessage; url: URL }> {
  let url = start;
  const max = o.maxRedirects ?? 5;
  for (let hop = 0; ; hop++) {
    const sameOrigin = url.origin === start.origin;
    const headers = { 'user-agent': 'nimbod', ...(sameOrigin ? o.headers : {}), ...extra };
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const mod = url.protocol === 'https:' ? https : http;
      const req = mod.get(url, { headers, ...(o.signal ? { signal: o.signal } : {}), ...(o.ca && url.protocol === 'https:' ? { ca: o.ca } : {}) }, resolve);
      req.setTimeout(o.idleTimeoutMs ?? 60_000, () => req.destroy(new Error(`no data for ${Math.round((o.idleTimeoutMs ?? 60_000) / 1000)} s`)));
      req.on('error', reject);
    });
    const status = res.statusCode ?? 0;
    if (REDIRECTS.has(status)) {
      res.resume();
      const loc = res.headers.location;
      if (!loc) throw new Fatal(invalid(`${redactUrl(url)} answered ${status} without a Location`));
      if (hop >= max) throw new Fatal(invalid(`${redactUrl(start)}: more than ${max} redirects`));
      try {
        url = checkDownloadUrl(new URL(loc, url).href, 'redirect target');
      } catch (e) {
        throw new Fatal(e as NimboError);
      }
      continue;
    }
    if (status >= 200 && status < 300) return { res, url };
    res.resume();
    const err = new NimboError(status === 404 ? 'NotFound' : 'InvalidArgument', `${redactUrl(url)} answered HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`);
    // A server error or a throttle may pass; anything else will not.
    if (status >= 500 || status === 408 || status === 429) throw err;
    throw new Fatal(err);
  }
}

/** A sink that writes at a position of a file and hashes what was written, in order (so the hash is of the disk). */
class FileSink extends Writable {
  constructor(private fh: FileHandle, public pos: number, private hash: Hash, private counted: (pos: number) => void, private max: number) {
    super({ highWaterMark: 4 * 1024 * 1024 });
  }
  /** The write in progress: a cut transfer waits for it, so that `pos` and the hash are of the disk. */
  private inflight: Promise<void> = Promise.resolve();
  override _writev(chunks: { chunk: Buffer }[], done: (e?: Error | null) => void): void {
    this.inflight = this.put(chunks.map((c) => c.chunk));
    this.inflight.then(() => done(), done);
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.inflight = this.put([chunk]);
    this.inflight.then(() => done(), done);
  }
  /** Resolves once no write is in progress. */
  settled(): Promise<void> {
    return this.inflight.catch(() => undefined);
  }
  private async put(bufs: Buffer[]): Promise<void> {
    const n = bufs.reduce((s, b) => s + b.length, 0);
    if (this.pos + n > this.max) throw new Fatal(new NimboError('TooLarge', `the download passed the limit of ${this.max} bytes: cut off`));
    let left = bufs;
    while (left.length) {
      const { bytesWritten } = await this.fh.writev(left, this.pos);
      for (let w = bytesWritten; w > 0 && left.length; ) {
        const b = left[0]!;
        if (w >= b.length) {
          this.hash.update(b);
          this.pos += b.length;
          w -= b.length;
          left = left.slice(1);
        } else {
          this.hash.update(b.subarray(0, w));
          this.pos += w;
          left = [b.subarray(w), ...left.slice(1)];
          w = 0;
        }
      }
    }
    this.counted(this.pos);
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/**
 * Download `url` into the new file `file` (created with mode 0600; it must not exist). A transfer cut in the middle
 * is resumed from the bytes on disk with `Range` (and `If-Range` with the ETag or Last-Modified, so a file that
 * changed on the server starts over), up to `retries` times. The caller removes `file` on failure.
 */
export async function download(url: URL, file: string, o: DownloadOptions): Promise<DownloadResult> {
  const fh = await open(file, 'wx', 0o600);
  try {
    let hash = createHash('sha256');
    let pos = 0;
    let total: number | undefined;
    let validator: string | undefined;
    let current = url;
    let resumes = 0;
    const retries = o.retries ?? 4;
    for (let attempt = 0; ; attempt++) {
      if (o.signal?.aborted) throw new NimboError('Cancelled', 'the download was cancelled');
      try {
        const extra: Record<string, string> = pos > 0 ? { range: `bytes=${pos}-`, ...(validator ? { 'if-range': validator } : {}) } : {};
        const { res, url: final } = await get(current, o, extra);
        current = final;
        if (pos > 0 && res.statusCode === 206) {
          const cr = parseContentRange(res.headers['content-range']);
          if (!cr || cr.start !== pos) {
            res.resume();
            throw new Fatal(invalid(`${redactUrl(final)} resumed at the wrong place (Content-Range ${res.headers['content-range'] ?? 'missing'}, wanted byte ${pos})`));
          }
          if (cr.total !== undefined) total = cr.total;
        } else {
          // A first request, or a server that ignored Range or whose file changed (If-Range): from byte 0.
          if (pos > 0) o.onResume?.(0, 'the server sent the whole file again');
          pos = 0;
          hash = createHash('sha256');
          await fh.truncate(0);
          const len = res.headers['content-length'];
          total = len !== undefined && /^[0-9]+$/.test(len) ? Number(len) : undefined;
          const etag = res.headers.etag;
          validator = etag && !etag.startsWith('W/') ? etag : (res.headers['last-modified'] ?? undefined);
        }
        if (total !== undefined && total > o.maxBytes) {
          res.resume();
          throw new Fatal(new NimboError('TooLarge', `${redactUrl(final)} is ${total} bytes, above the limit of ${o.maxBytes} bytes (the daemon's --upload-max or the free space)`));
        }
        o.progress?.(pos, total);
        const sink = new FileSink(fh, pos, hash, (p) => o.progress?.(p, total), o.maxBytes);
        try {
          await pipeline(res, sink);
        } finally {
          await sink.settled();
          pos = sink.pos;
        }
        if (total !== undefined && pos !== total) throw new Error(`the connection closed after ${pos} of ${total} bytes`);
        return { bytes: pos, sha256: hash.digest('hex'), resumes };
      } catch (e) {
        if (o.signal?.aborted) throw new NimboError('Cancelled', 'the download was cancelled');
        if (e instanceof Fatal) throw e.err;
        if ((e as NimboError).code === 'TooLarge') throw e;
        if ((e as NodeJS.ErrnoException).code === 'ENOSPC') throw new NimboError('TooLarge', 'the images filesystem is full');
        const why = (e as Error).message || String(e);
        if (attempt >= retries) throw new NimboError('InvalidArgument', `downloading ${redactUrl(url)} failed after ${attempt + 1} tries (${resumes} resumes): ${why}`);
        resumes++;
        o.onResume?.(pos, why);
        await sleep((o.retryDelayMs ?? 500) * (attempt + 1), o.signal);
      }
    }
  } finally {
    await fh.close();
  }
}

/** GET a small text (a SHA256SUMS file, an index) into memory, at most `maxBytes`. */
export async function fetchText(url: URL, o: { headers?: Record<string, string>; signal?: AbortSignal; maxBytes?: number; timeoutMs?: number; ca?: string } = {}): Promise<string> {
  const max = o.maxBytes ?? 4 * 1024 * 1024;
  const opts: DownloadOptions = { maxBytes: max, idleTimeoutMs: o.timeoutMs ?? 20_000, ...(o.headers ? { headers: o.headers } : {}), ...(o.signal ? { signal: o.signal } : {}), ...(o.ca ? { ca: o.ca } : {}) };
  let res: IncomingMessage;
  try {
    res = (await get(url, opts, {})).res;
  } catch (e) {
    if (e instanceof Fatal) throw e.err;
    if (e instanceof NimboError) throw e;
    throw new NimboError('InvalidArgument', `cannot fetch ${redactUrl(url)}: ${(e as Error).message}`);
  }
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > max) {
      res.destroy();
      throw new NimboError('TooLarge', `${redactUrl(url)} is larger than ${max} bytes`);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString('utf8');
}
