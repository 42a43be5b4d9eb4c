// One thing's metrics history in a fixed-size buffer that is also its file's exact layout: a fine ring
// (10-s points, 24 h) and a coarse ring (5-min points, 30 days). Each slot holds its own time, so a slot
// from an earlier lap or a gap (the daemon was down) is recognised by its time and answered as null.
// A coarse point is the average of the fine points of its 5 minutes, made when the next 5 minutes begin;
// the 5 minutes in progress are averaged on the fly when read.
//
// File/buffer layout (little-endian): a 32-byte header ("NMR1", series, fine step, fine slots, coarse step,
// coarse slots), then fine slots, then coarse slots; a slot is u32 unix seconds (0 = empty) and one f32 per
// series (NaN = null). Bytes = 32 + (fineN + coarseN) * 4 * (1 + series): 483,872 for an instance (6 series).

const MAGIC = 0x31524d4e; // "NMR1"
const HEADER = 32;

/** The geometry of a ring file. */
export interface RingShape {
  series: number;
  fineStep: number;
  fineN: number;
  coarseStep: number;
  coarseN: number;
}

/** 24 h of 10-s points and 30 days of 5-min points. */
export const DEFAULT_SHAPE = { fineStep: 10, fineN: 8640, coarseStep: 300, coarseN: 8640 } as const;

/** A run of points read back: times (unix seconds, oldest first) and one array per series (null = no sample). */
export interface RingRead {
  step: number;
  t: number[];
  series: (number | null)[][];
}

/** Bytes of a ring file of this shape. */
export function ringBytes(s: RingShape): number {
  return HEADER + (s.fineN + s.coarseN) * 4 * (1 + s.series);
}

/** A fine and a coarse ring in one buffer, with the slots changed since the last flush. */
export class HistoryRing {
  readonly buf: Buffer;
  private readonly rec: number;
  /** The newest fine time written (unix seconds), 0 if none. */
  private lastFine = 0;
  /** Byte offsets of slots written since the last flush (null: the whole buffer, e.g. a new file). */
  private dirty: Set<number> | null = null;

  /** A ring of `shape`, from `from` (a file's bytes) when its header matches, else empty. */
  constructor(readonly shape: RingShape, from?: Buffer) {
    this.rec = 4 * (1 + shape.series);
    const ok = from !== undefined && from.length === ringBytes(shape) && HistoryRing.headerMatches(from, shape);
    this.buf = ok ? from : Buffer.alloc(ringBytes(shape));
    if (ok) {
      this.dirty = new Set();
      for (let i = 0; i < shape.fineN; i++) this.lastFine = Math.max(this.lastFine, this.buf.readUInt32LE(HEADER + i * this.rec));
    } else {
      const h = [MAGIC, shape.series, shape.fineStep, shape.fineN, shape.coarseStep, shape.coarseN];
      h.forEach((v, i) => this.buf.writeUInt32LE(v, i * 4));
    }
  }

  private static headerMatches(b: Buffer, s: RingShape): boolean {
    return [MAGIC, s.series, s.fineStep, s.fineN, s.coarseStep, s.coarseN].every((v, i) => b.readUInt32LE(i * 4) === v);
  }

  /** Whether something changed since the last flush. */
  get isDirty(): boolean {
    return this.dirty === null || this.dirty.size > 0;
  }

  private fineOff(t: number): number {
    return HEADER + ((t / this.shape.fineStep) % this.shape.fineN) * this.rec;
  }

  private coarseOff(t: number): number {
    return HEADER + this.shape.fineN * this.rec + ((t / this.shape.coarseStep) % this.shape.coarseN) * this.rec;
  }

  private writeSlot(off: number, t: number, values: readonly (number | null)[]): void {
    this.buf.writeUInt32LE(t, off);
    for (let i = 0; i < this.shape.series; i++) {
      const v = values[i];
      this.buf.writeFloatLE(v === null || v === undefined || !Number.isFinite(v) ? NaN : v, off + 4 + i * 4);
    }
    this.dirty?.add(off);
  }

  /** The values of the slot at `off` if it holds time `t`, else undefined. */
  private slot(off: number, t: number): (number | null)[] | undefined {
    if (this.buf.readUInt32LE(off) !== t) return undefined;
    const out: (number | null)[] = [];
    for (let i = 0; i < this.shape.series; i++) {
      const v = this.buf.readFloatLE(off + 4 + i * 4);
      out.push(Number.isNaN(v) ? null : v);
    }
    return out;
  }

  /** Record the point sampled at unix second `at` (its 10-s step keeps the last value written). */
  put(at: number, values: readonly (number | null)[]): void {
    const t = Math.floor(at / this.shape.fineStep) * this.shape.fineStep;
    if (t <= 0) return;
    const cs = this.shape.coarseStep;
    // The previous point's 5 minutes are over: their average goes to the coarse ring.
    if (this.lastFine && Math.floor(t / cs) !== Math.floor(this.lastFine / cs)) this.rollup(Math.floor(this.lastFine / cs) * cs);
    this.writeSlot(this.fineOff(t), t, values);
    this.lastFine = Math.max(this.lastFine, t);
  }

  /** The average of the fine points of the coarse step starting at `start`, per series (null: none). */
  private average(start: number): (number | null)[] {
    const sum = new Array<number>(this.shape.series).fill(0);
    const n = new Array<number>(this.shape.series).fill(0);
    for (let t = start; t < start + this.shape.coarseStep; t += this.shape.fineStep) {
      const v = this.slot(this.fineOff(t), t);
      if (!v) continue;
      v.forEach((x, i) => {
        if (x !== null) {
          sum[i]! += x;
          n[i]!++;
        }
      });
    }
    return sum.map((s, i) => (n[i] ? s / n[i]! : null));
  }

  private rollup(start: number): void {
    const avg = this.average(start);
    if (avg.some((v) => v !== null)) this.writeSlot(this.coarseOff(start), start, avg);
  }

  /** The last `seconds` up to `now` (unix seconds): fine points when they reach that far back, else coarse ones. */
  read(seconds: number, now: number): RingRead {
    const fine = seconds <= this.shape.fineStep * this.shape.fineN;
    const step = fine ? this.shape.fineStep : this.shape.coarseStep;
    const count = Math.min(Math.ceil(seconds / step), fine ? this.shape.fineN : this.shape.coarseN);
    const end = Math.floor(now / step) * step;
    const open = Math.floor(this.lastFine / this.shape.coarseStep) * this.shape.coarseStep;
    const out: RingRead = { step, t: [], series: Array.from({ length: this.shape.series }, () => []) };
    for (let t = end - (count - 1) * step; t <= end; t += step) {
      let v: (number | null)[] | undefined;
      if (t > 0) v = fine ? this.slot(this.fineOff(t), t) : t === open ? this.average(t) : this.slot(this.coarseOff(t), t);
      out.t.push(t);
      for (let i = 0; i < this.shape.series; i++) out.series[i]!.push(v?.[i] ?? null);
    }
    return out;
  }

  /** The byte ranges to write to bring the file up to date ([offset, length], coalesced); all of it for a new file. Clears them. */
  takeDirty(): [number, number][] {
    if (this.dirty === null) {
      this.dirty = new Set();
      return [[0, this.buf.length]];
    }
    const offs = [...this.dirty].sort((a, b) => a - b);
    this.dirty.clear();
    const out: [number, number][] = [];
    for (const o of offs) {
      const last = out[out.length - 1];
      if (last && last[0] + last[1] === o) last[1] += this.rec;
      else out.push([o, this.rec]);
    }
    return out;
  }

  /** Forget the flushed state: the next takeDirty() writes everything (the file was lost). */
  markAllDirty(): void {
    this.dirty = null;
  }
}
