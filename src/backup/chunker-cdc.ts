// FastCDC content-defined chunking (Xia et al., USENIX ATC 2016) with normalized chunking: a gear rolling hash,
// a stricter mask before the average size and a looser one after it, cut-point skipping below the minimum.
// The gear table comes from the deterministic lib/prng, so the same bytes always cut at the same points.
import { invalid } from '../lib/errors.js';
import { prng } from '../lib/prng.js';

/** Chunk size bounds of the content-defined chunker. */
export interface CdcParams {
  min: number;
  avg: number;
  max: number;
}

/** Defaults for container trees: 256 KiB / 1 MiB / 4 MiB. */
export const DEFAULT_CDC: CdcParams = { min: 256 * 1024, avg: 1024 * 1024, max: 4 * 1024 * 1024 };

const GEAR = (() => {
  const r = prng(0x6e696d62); // "nimb": fixed forever, or every chunk boundary of existing stores would move
  const g = new Int32Array(256);
  for (let i = 0; i < 256; i++) g[i] = Math.floor(r() * 0x100000000) | 0;
  return g;
})();

// k ones in the high bits: with a left-shifting gear hash the high bits depend on the most bytes (a 32-byte window).
const highMask = (k: number) => (k >= 32 ? -1 : ((2 ** k - 1) * 2 ** (32 - k)) | 0);

/** Check chunker bounds (powers of two are not required; min < avg < max). */
export function validateCdcParams(p: CdcParams): CdcParams {
  if (![p.min, p.avg, p.max].every((n) => Number.isInteger(n) && n >= 64) || !(p.min < p.avg && p.avg < p.max) || p.max > 64 * 1024 * 1024) {
    throw invalid(`content-defined chunk sizes must satisfy 64 <= min < avg < max <= 64 MiB (got ${p.min}/${p.avg}/${p.max})`);
  }
  return p;
}

/** Length of the chunk that starts at `start` in buf[start, end) (end - start when no cut is found before max). */
export function cutPoint(buf: Uint8Array, start: number, end: number, p: CdcParams): number {
  const n = end - start;
  if (n <= p.min) return n;
  const bits = Math.round(Math.log2(p.avg));
  const maskS = highMask(bits + 2);
  const maskL = highMask(bits - 2);
  const normal = start + Math.min(p.avg, n);
  const limit = start + Math.min(p.max, n);
  let fp = 0;
  let i = start + p.min;
  for (; i < normal; i++) {
    fp = ((fp << 1) + GEAR[buf[i]!]!) | 0;
    if ((fp & maskS) === 0) return i + 1 - start;
  }
  for (; i < limit; i++) {
    fp = ((fp << 1) + GEAR[buf[i]!]!) | 0;
    if ((fp & maskL) === 0) return i + 1 - start;
  }
  return limit - start;
}

/** A streaming chunker: push buffers of any size, get complete chunks; cut points do not depend on how data was split. */
export class CdcChunker {
  private parts: Buffer[] = [];
  private pending = 0;

  constructor(readonly params: CdcParams = DEFAULT_CDC) {
    validateCdcParams(params);
  }

  /** Add data; returns the chunks that are now complete. */
  push(data: Buffer): Buffer[] {
    if (data.length === 0) return [];
    this.parts.push(data);
    this.pending += data.length;
    // Cut only once a whole max-sized window is present, so a cut never depends on where a push ended.
    return this.pending >= this.params.max ? this.cut(false) : [];
  }

  /** End of stream: the remaining chunks. */
  finish(): Buffer[] {
    return this.pending > 0 ? this.cut(true) : [];
  }

  private cut(final: boolean): Buffer[] {
    const buf = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.pending);
    const out: Buffer[] = [];
    let pos = 0;
    while (buf.length - pos >= this.params.max || (final && pos < buf.length)) {
      const len = cutPoint(buf, pos, buf.length, this.params);
      out.push(buf.subarray(pos, pos + len));
      pos += len;
    }
    const rest = buf.subarray(pos);
    this.parts = rest.length ? [rest] : [];
    this.pending = rest.length;
    return out;
  }
}
