// The metrics history of the host and of every instance: one HistoryRing each, kept in memory and in a
// fixed-size file STATE/metrics/<key>.ring (dir 0700, files 0600). Flushes write only the slots that
// changed (positioned writes), so a flush every few minutes costs a few KiB per instance, not the file.
// A restart reads the files back; an instance that is gone loses its history (retain()).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_SHAPE, HistoryRing, type RingRead, type RingShape } from './history-ring.js';

const KEY = /^[A-Za-z0-9-]{1,64}$/;
const SUFFIX = '.ring';

/** Fixed-size rings per key (an instance UUID, or 'host'), persisted under one directory. */
export class MetricsHistory {
  private rings = new Map<string, HistoryRing>();

  constructor(private readonly dir: string, private readonly shapeBase: Omit<RingShape, 'series'> = DEFAULT_SHAPE) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** The ring of `key` with `series` series: in memory, else read from its file (a file of another shape starts afresh). */
  private ring(key: string, series: number): HistoryRing {
    if (!KEY.test(key)) throw new Error(`metrics history key ${JSON.stringify(key)} is not valid`);
    let r = this.rings.get(key);
    if (r && r.shape.series === series) return r;
    const file = join(this.dir, key + SUFFIX);
    let bytes: Buffer | undefined;
    try {
      bytes = existsSync(file) ? readFileSync(file) : undefined;
    } catch {
      bytes = undefined;
    }
    r = new HistoryRing({ ...this.shapeBase, series }, bytes);
    this.rings.set(key, r);
    return r;
  }

  /** Record one sample of `key` taken at unix second `at`. */
  put(key: string, at: number, values: readonly (number | null)[]): void {
    this.ring(key, values.length).put(at, values);
  }

  /** The last `seconds` of `key` up to `now`; all nulls when nothing was recorded. */
  read(key: string, series: number, seconds: number, now: number): RingRead {
    // Nothing recorded yet: answer from an empty ring without keeping it (no file is made for a read).
    if (!this.rings.has(key) && KEY.test(key) && !existsSync(join(this.dir, key + SUFFIX))) return new HistoryRing({ ...this.shapeBase, series }).read(seconds, now);
    return this.ring(key, series).read(seconds, now);
  }

  /** Drop the history of every key not in `keep` (memory and file): deleted instances. */
  retain(keep: ReadonlySet<string>): void {
    for (const k of [...this.rings.keys()]) if (!keep.has(k)) this.rings.delete(k);
    for (const f of readdirSync(this.dir)) {
      const k = f.endsWith(SUFFIX) ? f.slice(0, -SUFFIX.length) : undefined;
      if (k === undefined || !keep.has(k)) rmSync(join(this.dir, f), { force: true });
    }
  }

  /** Write what changed to the files (new files whole, mode 0600). */
  async flush(): Promise<void> {
    for (const [key, r] of this.rings) {
      if (!r.isDirty) continue;
      const file = join(this.dir, key + SUFFIX);
      if (!existsSync(file)) r.markAllDirty();
      const fh = await open(file, existsSync(file) ? 'r+' : 'w', 0o600);
      try {
        for (const [off, len] of r.takeDirty()) await fh.write(r.buf, off, len, off);
      } finally {
        await fh.close();
      }
    }
  }

  /** Keys with a ring in memory (tests, the benchmark). */
  keys(): string[] {
    return [...this.rings.keys()];
  }
}
