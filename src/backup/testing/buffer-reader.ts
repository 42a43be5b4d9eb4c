// A BlockReader over a Buffer for tests and the throughput measure: extents at a fixed granularity (zero when the
// block is all zeros), dirty only inside the given ranges (all dirty when none are given), and a bytesRead counter.
import type { BlockExtent, BlockReader } from '../../shared/backup-source.js';

const ZERO = Buffer.alloc(1 << 20);

/** A fake block device over memory. */
export class BufferBlockReader implements BlockReader {
  bytesRead = 0;
  readCalls = 0;
  closed = false;
  constructor(
    private readonly buf: Buffer,
    private readonly dirty: [number, number][] | null = null,
    private readonly granularity = 64 * 1024, // at most 1 MiB (the zero buffer)
  ) {}

  get size(): number {
    return this.buf.length;
  }

  private isDirty(off: number, len: number): boolean {
    return this.dirty === null || this.dirty.some(([o, l]) => o < off + len && off < o + l);
  }

  async extents(offset: number, length: number): Promise<BlockExtent[]> {
    const out: BlockExtent[] = [];
    const end = Math.min(offset + length, this.size);
    for (let o = offset; o < end; ) {
      const next = Math.min(end, (Math.floor(o / this.granularity) + 1) * this.granularity);
      const part = this.buf.subarray(o, next);
      const e = { offset: o, length: next - o, zero: part.equals(ZERO.subarray(0, part.length)), dirty: this.isDirty(o, next - o) };
      const last = out[out.length - 1];
      if (last && last.zero === e.zero && last.dirty === e.dirty) last.length += e.length;
      else out.push(e);
      o = next;
    }
    return out;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    if (offset < 0 || offset + length > this.size) throw new Error(`read past the end: ${offset}+${length}`);
    this.bytesRead += length;
    this.readCalls++;
    return Buffer.from(this.buf.subarray(offset, offset + length));
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
