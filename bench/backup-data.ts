/**
 * The data of bench/backup: a 2 GiB disk (MBR, one ext4 partition from 1 MiB, filled with mke2fs -d)
 * holding a Debian 12 root tree plus random and compressible files, and the deterministic set of
 * 64 KiB-aligned regions that the incremental changes, with their deterministic contents.
 */
import { createCipheriv, createHash, randomFillSync } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostExec } from '../src/host/exec.js';
import { prng } from '../src/lib/prng.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
/** Where the ext4 partition starts (as in nimbo's debian-12 image). */
export const PART_OFFSET = MiB;

/** One changed run of the disk. */
export interface Region {
  offset: number;
  length: number;
}

/** How planChanges places regions. */
export interface PlanOptions {
  /** Alignment and granularity of offsets and lengths (default 64 KiB, QEMU's default dirty-bitmap granularity). */
  align?: number;
  /** Shortest and longest region before alignment (default 64 KiB .. 4 MiB, log-uniform: many small writes, a few big ones). */
  minLength?: number;
  maxLength?: number;
}

/**
 * Deterministic (by `seed`), non-overlapping, `align`-aligned regions of [0, size) that total exactly
 * `total` bytes (a multiple of `align`), sorted by offset.
 */
export function planChanges(seed: number, size: number, total: number, opts: PlanOptions = {}): Region[] {
  const align = opts.align ?? 64 * KiB;
  const minUnits = Math.max(1, Math.round((opts.minLength ?? 64 * KiB) / align));
  const maxUnits = Math.max(minUnits, Math.round((opts.maxLength ?? 4 * MiB) / align));
  if (size % align !== 0 || total % align !== 0) throw new Error(`size and total must be multiples of ${align}`);
  const units = size / align;
  let left = total / align;
  if (left > units / 2) throw new Error('planChanges: at most half of the disk can change');
  const used = new Uint8Array(units);
  const rnd = prng(seed);
  const out: Region[] = [];
  while (left > 0) {
    // log-uniform length in [minUnits, maxUnits], trimmed to what is left
    const want = Math.floor(minUnits * Math.pow(maxUnits / minUnits, rnd()) + 0.5);
    const len = Math.min(left, Math.max(minUnits, Math.min(maxUnits, want)));
    const start = Math.floor(rnd() * (units - len + 1));
    let free = true;
    for (let u = start; u < start + len && free; u++) free = used[u] === 0;
    if (!free) continue; // at <= 50 % coverage a free place turns up quickly
    used.fill(1, start, start + len);
    out.push({ offset: start * align, length: len * align });
    left -= len;
  }
  return out.sort((a, b) => a.offset - b.offset);
}

/** How many `chunk`-sized aligned chunks of the disk the regions touch (what a whole-chunk reader reads). */
export function chunksTouched(regions: Region[], chunk: number): number {
  const set = new Set<number>();
  for (const r of regions) for (let c = Math.floor(r.offset / chunk); c * chunk < r.offset + r.length; c++) set.add(c);
  return set.size;
}

/** The new contents of a region: an AES-256-CTR keystream keyed by the seed (incompressible, deterministic, never repeated). */
export function regionBytes(seed: number, r: Region): Buffer {
  const key = createHash('sha256').update(`nimbo-bench-backup-${seed}`).digest();
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(r.offset), 0);
  return createCipheriv('aes-256-ctr', key, iv).update(Buffer.alloc(r.length));
}

/** Writes the regions' new contents into a raw disk file in place (fsynced). */
export async function applyChanges(file: string, seed: number, regions: Region[]): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    for (const r of regions) await fh.write(regionBytes(seed, r), 0, r.length, r.offset);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes each region's contents as its own file `dir/rN.bin` (for qemu-io's `write -s FILE`); returns the paths. */
export async function writeRegionFiles(dir: string, seed: number, regions: Region[]): Promise<string[]> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const paths: string[] = [];
  for (const [i, r] of regions.entries()) {
    const p = join(dir, `r${i}.bin`);
    await writeFile(p, regionBytes(seed, r), { mode: 0o644 });
    paths.push(p);
  }
  return paths;
}

/** SHA-256 (hex) of a whole file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const b of createReadStream(file, { highWaterMark: 4 * MiB })) h.update(b as Buffer);
  return h.digest('hex');
}

/** Writes `bytes` to `file` in pieces made by `piece(n)` (never the whole file in memory). */
async function writeStreamed(file: string, bytes: number, piece: (n: number) => Buffer): Promise<void> {
  const fh = await open(file, 'w', 0o644);
  try {
    for (let done = 0; done < bytes; ) {
      const b = piece(Math.min(MiB, bytes - done));
      await fh.write(b);
      done += b.length;
    }
  } finally {
    await fh.close();
  }
}

/** File sizes, log-uniform in [min, max], that total `total` bytes (the last one trimmed). */
function fileSizes(rnd: () => number, total: number, min: number, max: number): number[] {
  const out: number[] = [];
  for (let left = total; left > 0; ) {
    const s = Math.min(left, Math.round(min * Math.pow(max / min, rnd())));
    out.push(s);
    left -= s;
  }
  return out;
}

/** Files of random bytes (the kernel's CSPRNG, as /dev/urandom) totalling `bytes`, 4 KiB .. 32 MiB each; returns how many. */
export async function writeRandomFiles(dir: string, bytes: number, seed: number): Promise<number> {
  await mkdir(dir, { recursive: true });
  const sizes = fileSizes(prng(seed), bytes, 4 * KiB, 32 * MiB);
  for (const [i, s] of sizes.entries()) await writeStreamed(join(dir, `blob-${i}.bin`), s, (n) => randomFillSync(Buffer.alloc(n)));
  return sizes.length;
}

const HOSTS = ['web-01', 'web-02', 'db-01', 'cache-03', 'worker-11', 'lb-01'];
const UNITS = ['sshd', 'nginx', 'postgres', 'cron', 'systemd', 'kernel', 'dockerd', 'app'];
const WORDS = ('request completed failed user session connection timeout started stopped accepted rejected ' +
  'query slow checkpoint worker retry upstream cache miss hit backend GET POST /api/v1/items /login /static/app.js ' +
  'status=200 status=404 status=500 bytes latency_ms').split(' ');

/** One log line in one of three shapes (syslog, access log, CSV), from `rnd`. */
function logLine(rnd: () => number, t: number): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const ts = new Date(1_764_000_000_000 + t * 250).toISOString();
  const ip = `10.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`;
  const k = rnd();
  if (k < 0.5) {
    const words = Array.from({ length: 3 + Math.floor(rnd() * 8) }, () => pick(WORDS)).join(' ');
    return `${ts} ${pick(HOSTS)} ${pick(UNITS)}[${1000 + Math.floor(rnd() * 30000)}]: ${words} from ${ip}\n`;
  }
  if (k < 0.8) {
    return `${ip} - - [${ts}] "${pick(['GET', 'POST', 'PUT'])} ${pick(WORDS)} HTTP/1.1" ${pick([200, 200, 200, 304, 404, 500])} ` +
      `${Math.floor(rnd() * 100000)} "-" "Mozilla/5.0 (X11; Linux x86_64)" ${(rnd() * 2).toFixed(3)}\n`;
  }
  return `${t},${ts},${pick(HOSTS)},${Math.floor(rnd() * 1e6)},${(rnd() * 1000).toFixed(2)},${pick(WORDS)},${ip}\n`;
}

/** Compressible text (syslog, access logs, CSV lines) totalling `bytes`, files of 256 KiB .. 64 MiB, deterministic; returns how many. */
export async function writeTextFiles(dir: string, bytes: number, seed: number): Promise<number> {
  await mkdir(dir, { recursive: true });
  const rnd = prng(seed);
  const sizes = fileSizes(rnd, bytes, 256 * KiB, 64 * MiB);
  let t = 0;
  let carry = Buffer.alloc(0);
  for (const [i, s] of sizes.entries()) {
    await writeStreamed(join(dir, `${['syslog', 'access', 'metrics'][i % 3]}-${i}.log`), s, (n) => {
      const lines: string[] = [];
      let len = carry.length;
      while (len < n) {
        const l = logLine(rnd, t++);
        lines.push(l);
        len += l.length; // ASCII only: characters are bytes
      }
      const all = Buffer.concat([carry, Buffer.from(lines.join(''))]);
      carry = all.subarray(n);
      return all.subarray(0, n);
    });
  }
  return sizes.length;
}

/** Writes the tree `root` into a new raw disk of `size` bytes: an MBR with one ext4 partition at 1 MiB (mke2fs -d). */
export async function makeDisk(exec: HostExec, root: string, raw: string, size: number): Promise<void> {
  if (existsSync(raw)) throw new Error(`${raw} exists`);
  await writeFile(raw, '');
  await truncate(raw, size);
  await exec.run(['sfdisk', '-q', '--no-reread', '--no-tell-kernel', raw], {
    input: `label: dos\nunit: sectors\n\nstart=${PART_OFFSET / 512}, type=83\n`,
  });
  await exec.run(['mke2fs', '-q', '-F', '-t', 'ext4', '-L', 'bench-root', '-E', `offset=${PART_OFFSET}`, '-d', root, raw,
    `${(size - PART_OFFSET) / KiB}k`], { timeoutMs: 20 * 60_000 });
}
