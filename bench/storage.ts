/**
 * bench/storage: time a linked clone and a snapshot of a 256 MiB and a 4 GiB block volume filled
 * with data (not sparse), on each driver configuration, beside a full copy of the same data with
 * `cp --reflink=never` and with `qemu-img convert` (each followed by an fsync of the copy, so the
 * copy is on disk). Each configuration gets its own loop filesystem, so all three share one I/O path:
 * - dir qcow2 on ext4 (no reflinks: a linked clone freezes the source into a base + overlays),
 * - dir raw on XFS made with reflink=1 (snapshots and clones are reflink copies),
 * - btrfs (snapshots and linked clones are subvolume snapshots).
 * Medians of RUNS repetitions (default 7) for clones and snapshots, COPY_RUNS (default 3) for the
 * full copies; sizes interleave within a repetition so drift hits both alike. Between clone
 * repetitions the source gets a 64 KiB write (untimed), so each linked clone of a qcow2 volume
 * freezes a new layer instead of reusing the last one. Snapshots are timed before any clone, on
 * the filled volume itself. Prints a table, then the snapshot and, last, the clone scaling:
 * the worst (largest / smallest size) median ratio across configurations (target <= 1.5).
 * Everything (loop devices, mounts, files) carries the per-run prefix qsbXXXX and is removed on
 * exit, failure or SIGINT/SIGTERM. Needs root (run: npm run bench:storage).
 */
import { randomBytes } from 'node:crypto';
import { rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { RealExec } from '../src/host/exec.js';
import { createStorageDriver } from '../src/drivers/storage/index.js';
import type { PoolOptions, StorageDriver, StorageDriverName, VolumeLocation } from '../src/drivers/storage/types.js';
import { makeLoopFs, type ScratchFs } from '../src/drivers/storage/testing/loop-fs.js';
import { fillVolume, hasPattern, writePattern } from '../src/drivers/storage/testing/volume-data.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const RUNS = Number(process.env.RUNS ?? 7);
const COPY_RUNS = Number(process.env.COPY_RUNS ?? 3);
const SIZES = (process.env.SIZES_MIB ?? '256,4096').split(',').map((s) => Number(s) * MiB);
const FILL = 0xab;
const COPY_TIMEOUT = 1_800_000;

interface Config {
  key: string;
  label: string;
  fsType: 'xfs' | 'btrfs' | 'ext4';
  driver: StorageDriverName;
  options: PoolOptions;
  /** What capabilities().reflink must say (the bench measures the wrong thing otherwise). */
  reflink: boolean;
}

const CONFIGS: Config[] = [
  { key: 'qcow2', label: 'dir qcow2 (ext4)', fsType: 'ext4', driver: 'dir', options: { format: 'qcow2' }, reflink: false },
  { key: 'raw', label: 'dir raw+reflink (XFS)', fsType: 'xfs', driver: 'dir', options: { format: 'raw' }, reflink: true },
  { key: 'btrfs', label: 'btrfs', fsType: 'btrfs', driver: 'btrfs', options: {}, reflink: true },
].filter((c) => !process.env.CONFIGS || process.env.CONFIGS.split(',').includes(c.key)) as Config[];

/** Median per size: clone, snapshot, cp, convert (ms). */
interface Row {
  config: string;
  sizeBytes: number;
  fillMs: number;
  clone: number[];
  snapshot: number[];
  cp: number[];
  convert: number[];
}

const exec = new RealExec();
const run = `qsb${randomBytes(2).toString('hex')}`;
const scratches: ScratchFs[] = [];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmtMs = (ms: number) => (ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`);
const fmtSize = (b: number) => (b >= GiB && b % GiB === 0 ? `${b / GiB} GiB` : `${b / MiB} MiB`);

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Undo every scratch filesystem made so far (idempotent). */
async function cleanupAll(): Promise<void> {
  while (scratches.length > 0) await scratches.pop()!.cleanup().catch((e) => console.error(`cleanup: ${String(e)}`));
}

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    console.error(`storage: ${sig}, cleaning up`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

/** Fail when the copy shares extents with its source (a full copy must write the data). */
async function assertNotShared(file: string): Promise<void> {
  const r = await exec.run(['filefrag', '-v', file], { allowFailure: true });
  if (r.code !== 0) throw new Error(`filefrag ${file}: ${r.stderr}`);
  if (/\bshared\b/.test(r.stdout)) throw new Error(`${file}: the "full" copy shares extents with its source (reflinked)`);
}

/** One full copy of src to dst with argv, fsynced; returns ms. The copy is removed afterwards. */
async function timeCopy(argv: string[], dst: string, checkShared: boolean): Promise<number> {
  try {
    const ms = await timed(async () => {
      await exec.run(argv, { timeoutMs: COPY_TIMEOUT });
      await exec.run(['sync', dst], { timeoutMs: COPY_TIMEOUT });
    });
    if (checkShared) await assertNotShared(dst);
    return ms;
  } finally {
    await rm(dst, { force: true });
    await exec.run(['sync', '-f', join(dst, '..')]);
  }
}

/** Warm the code paths (module loading, first spawns) on a throwaway 1 MiB volume. */
async function warmUp(dr: StorageDriver): Promise<void> {
  await dr.createVolume({ name: 'warm', kind: 'block', sizeBytes: MiB });
  await fillVolume(exec, await dr.volumePath('warm'), MiB, FILL);
  await dr.createSnapshot('warm', 'w');
  await dr.deleteSnapshot('warm', 'w');
  await dr.cloneVolume('warm', 'warm-c', { mode: 'linked' });
  await dr.deleteVolume('warm-c');
  await dr.deleteVolume('warm');
}

async function benchConfig(cfg: Config): Promise<Row[]> {
  const fsBytes = 2 * Math.max(...SIZES) + SIZES.reduce((a, b) => a + b, 0) + 2 * GiB;
  const fs = await makeLoopFs(exec, cfg.fsType, fsBytes, `${run}-${cfg.key}`);
  scratches.push(fs);
  try {
    const dr = createStorageDriver({ name: `${run}-${cfg.key}`, driver: cfg.driver, path: join(fs.dir, 'pool'), options: cfg.options }, { exec });
    await dr.initPool();
    const caps = await dr.capabilities();
    if (caps.reflink !== cfg.reflink || !caps.linkedClones) throw new Error(`${cfg.label}: unexpected capabilities ${JSON.stringify(caps)}`);
    await warmUp(dr);

    const vols: { name: string; size: number; loc: VolumeLocation; row: Row }[] = [];
    for (const size of SIZES) {
      const name = `v${size / MiB}m`;
      await dr.createVolume({ name, kind: 'block', sizeBytes: size });
      const loc = await dr.volumePath(name);
      const fillMs = await timed(async () => {
        await fillVolume(exec, loc, size, FILL);
        await exec.run(['sync', '-f', loc.path]);
      });
      const info = await dr.volumeInfo(name);
      if (info.allocatedBytes < size) throw new Error(`${cfg.label} ${name}: only ${info.allocatedBytes} of ${size} bytes allocated after the fill`);
      if (!(await hasPattern(exec, loc, FILL, size - MiB, MiB))) throw new Error(`${cfg.label} ${name}: fill pattern missing at the end`);
      console.log(`${cfg.label} ${fmtSize(size)}: filled in ${fmtMs(fillMs)}, ${(info.allocatedBytes / MiB).toFixed(0)} MiB allocated`);
      vols.push({ name, size, loc, row: { config: cfg.label, sizeBytes: size, fillMs, clone: [], snapshot: [], cp: [], convert: [] } });
    }

    // Full copies of the same data, on the same filesystem, next to the pool.
    for (let i = 0; i < COPY_RUNS; i++) {
      for (const v of vols) {
        const fmt = v.loc.format!;
        const dst = join(fs.dir, `${run}-copy.${fmt}`);
        v.row.cp.push(await timeCopy(['cp', '--reflink=never', '--', v.loc.path, dst], dst, cfg.reflink));
        v.row.convert.push(await timeCopy(['qemu-img', 'convert', '-f', fmt, '-O', fmt, v.loc.path, dst], dst, cfg.reflink));
        console.log(`  copy ${i + 1} ${fmtSize(v.size)}: cp ${fmtMs(v.row.cp.at(-1)!)}, qemu-img convert ${fmtMs(v.row.convert.at(-1)!)}`);
      }
    }

    // Snapshots of the filled volumes (deleted again, untimed).
    for (let i = 0; i < RUNS; i++) {
      for (const v of vols) {
        v.row.snapshot.push(await timed(() => dr.createSnapshot(v.name, `s${i}`)));
        await dr.deleteSnapshot(v.name, `s${i}`);
        await exec.run(['sync', '-f', v.loc.path]);
      }
    }

    // Linked clones (checked, deleted; then a small write to the source so the next clone is not a no-op).
    for (let i = 0; i < RUNS; i++) {
      for (const v of vols) {
        const target = `${v.name}-c${i}`;
        v.row.clone.push(await timed(() => dr.cloneVolume(v.name, target, { mode: 'linked' })));
        if (!(await hasPattern(exec, await dr.volumePath(target), FILL, v.size - 64 * 1024, 64 * 1024))) throw new Error(`${cfg.label}: clone ${target} lacks the source's data`);
        await dr.deleteVolume(target);
        await writePattern(exec, await dr.volumePath(v.name), 0xcd, 0, 64 * 1024);
        await exec.run(['sync', '-f', v.loc.path]);
      }
    }
    for (const v of vols) {
      const r = v.row;
      console.log(`  ${fmtSize(v.size)} samples (ms): clone [${r.clone.map((x) => x.toFixed(1)).join(', ')}] snapshot [${r.snapshot.map((x) => x.toFixed(1)).join(', ')}]`);
    }
    for (const v of vols) await dr.deleteVolume(v.name);
    await dr.deletePool();
    return vols.map((v) => v.row);
  } finally {
    const i = scratches.indexOf(fs);
    if (i >= 0) scratches.splice(i, 1);
    await fs.cleanup();
  }
}

function printTable(rows: Row[]): void {
  const head = ['configuration', 'size', 'clone', 'snapshot', 'cp', 'qemu-img convert'];
  const body = rows.map((r) => [r.config, fmtSize(r.sizeBytes), fmtMs(median(r.clone)), fmtMs(median(r.snapshot)), fmtMs(median(r.cp)), fmtMs(median(r.convert))]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  console.log(line(head));
  console.log(w.map((n) => '-'.repeat(n)).join('  '));
  for (const b of body) console.log(line(b));
}

/** Worst ratio (largest size / smallest size) of a metric's medians across configurations. */
function scaling(rows: Row[], pick: (r: Row) => number[]): { worst: number; per: string[] } {
  const lo = Math.min(...SIZES);
  const hi = Math.max(...SIZES);
  let worst = 0;
  const per: string[] = [];
  for (const cfg of new Set(rows.map((r) => r.config))) {
    const a = rows.find((r) => r.config === cfg && r.sizeBytes === lo)!;
    const b = rows.find((r) => r.config === cfg && r.sizeBytes === hi)!;
    const ratio = median(pick(b)) / median(pick(a));
    worst = Math.max(worst, ratio);
    per.push(`${cfg} ${ratio.toFixed(2)}`);
  }
  return { worst, per };
}

const t0 = performance.now();
try {
  if (process.getuid?.() !== 0) throw new Error('bench/storage needs root (loop devices, mounts)');
  if (SIZES.length < 2 || SIZES.some((s) => !(s > 0) || s % MiB !== 0)) throw new Error('SIZES_MIB: at least two sizes in MiB');
  const need = 2 * Math.max(...SIZES) + SIZES.reduce((a, b) => a + b, 0) + 4 * GiB;
  const st = await statfs(tmpdir());
  const avail = st.bavail * st.bsize;
  console.log(`storage: ${tmpdir()} has ${(avail / GiB).toFixed(1)} GiB free, needs about ${(need / GiB).toFixed(1)} GiB (one configuration at a time); run prefix ${run}`);
  if (avail < need) throw new Error(`not enough space in ${tmpdir()}: ${(avail / GiB).toFixed(1)} GiB free, ${(need / GiB).toFixed(1)} GiB needed`);

  const rows: Row[] = [];
  for (const cfg of CONFIGS) rows.push(...(await benchConfig(cfg)));
  console.log('');
  printTable(rows);
  console.log('');
  const snap = scaling(rows, (r) => r.snapshot);
  const clone = scaling(rows, (r) => r.clone);
  const big = fmtSize(Math.max(...SIZES));
  const small = fmtSize(Math.min(...SIZES));
  console.log(`storage: ${big}/${small} snapshot time per configuration: ${snap.per.join(', ')}`);
  console.log(`storage: ${big}/${small} clone time per configuration: ${clone.per.join(', ')}`);
  console.log(`storage: total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  console.log(`storage: snapshot-scaling ${snap.worst.toFixed(2)}`);
  console.log(`storage: clone-scaling ${clone.worst.toFixed(2)}`);
} catch (e) {
  console.error(`storage: failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  await cleanupAll();
}
