/**
 * bench/backup: nimbo's backup against restic (Debian 0.14) and borg (Debian 1.2) in one run, on the same
 * machine and the same data, printed side by side with ratios (issue 12's Benchmark section):
 * - data: a 2 GiB disk (MBR, ext4 from 1 MiB) holding a Debian 12 tree (bootstrapped as nimbo's
 *   debian-12 image is), random files and compressible logs; nimbo backs up a running VM on it (the
 *   disk imported as an image), restic and borg the same bytes as a raw file;
 * - a full backup of each (time, repository size), then 10 % of the disk (used + unused) changed in
 *   deterministic 64 KiB-aligned regions, written identically into the raw file and through QEMU's block
 *   layer into the running VM's disk, then an incremental of each (time, growth; nimbo: bytes read
 *   against bytes changed), then a restore of each (time, SHA-256 of the whole disk against the source).
 * Everything lives under one temporary directory (and nimbo's test daemon) removed on exit, failure or
 * SIGINT/SIGTERM. Needs root. Run: npm run bench:backup. Knobs: SEED, DISK_MIB, RANDOM_MIB, TEXT_MIB,
 * CHANGE_PERCENT, BORG_CHUNKER, BORG_COMPRESSION, NIMBO=0 (peers only), BACKUP_ROOTFS_CACHE=DIR (keep the
 * bootstrapped tree there between runs).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { RealExec } from '../src/host/exec.js';
import { bootstrapRootfs, hostDebianMirror } from '../src/images/debian12.js';
import {
  GiB, MiB, applyChanges, chunksTouched, makeDisk, planChanges, sha256File, writeRandomFiles, writeRegionFiles, writeTextFiles,
} from './backup-data.js';
import { borg, duBytes, restic, rmTree, type BackupTool, type Step } from './backup-peers.js';
import {
  nimboBackup, nimboCleanup, nimboCreateStore, nimboDiskEquals, nimboExport, nimboHasBackup, nimboRestoreAs, nimboStart, nimboWrite,
  type NimboBackup, type NimboVm,
} from './backup-nimbo.js';

const env = process.env;
const SEED = Number(env.SEED ?? 12);
const DISK = Number(env.DISK_MIB ?? 2048) * MiB;
const RANDOM = Number(env.RANDOM_MIB ?? 256) * MiB;
const TEXT = Number(env.TEXT_MIB ?? 320) * MiB;
const CHANGE_PERCENT = Number(env.CHANGE_PERCENT ?? 10);
const BORG_CHUNKER = env.BORG_CHUNKER ?? 'fixed,4194304';
const BORG_COMPRESSION = env.BORG_COMPRESSION ?? 'zstd,3';
const WITH_NIMBO = env.NIMBO !== '0';
const ROOTFS_CACHE = env.BACKUP_ROOTFS_CACHE;
const NIMBO_CHUNK = 4 * MiB;

const exec = new RealExec();
const mib = (b: number) => `${(b / MiB).toFixed(b < 10 * MiB ? 1 : 0)} MiB`;
const secs = (s: number) => `${s.toFixed(1)}s`;
const ratio = (a: number | undefined, b: number) => (a === undefined ? 'n/a' : (a / b).toFixed(2));
const log = (s: string) => console.log(s);

let work: string | undefined;
let nimbo: NimboVm | undefined;
let stopping = false;

/** Removes everything this run made (idempotent). */
async function cleanup(): Promise<void> {
  await nimboCleanup(nimbo).catch((e) => console.error(`cleanup nimbo: ${String(e)}`));
  nimbo = undefined;
  if (work) await rmTree(work).catch((e) => console.error(`cleanup ${work}: ${String(e)}`));
  work = undefined;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    console.error(`backup: ${sig}, cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** The Debian tree: a cached one (BACKUP_ROOTFS_CACHE) copied into `tree`, else bootstrapped into it. */
async function debianTree(tree: string): Promise<string> {
  const mirror = await hostDebianMirror();
  const t0 = performance.now();
  const quiet = () => {};
  if (!ROOTFS_CACHE) {
    await bootstrapRootfs(exec, tree, mirror, quiet);
    return `bootstrapped from ${mirror} in ${secs((performance.now() - t0) / 1000)}`;
  }
  const done = join(ROOTFS_CACHE, '.nimbo-bench-complete');
  let how = `cached in ${ROOTFS_CACHE}`;
  if (!existsSync(done)) {
    await rmTree(ROOTFS_CACHE);
    await bootstrapRootfs(exec, ROOTFS_CACHE, mirror, quiet);
    await writeFile(done, '');
    how = `bootstrapped from ${mirror} into ${ROOTFS_CACHE} in ${secs((performance.now() - t0) / 1000)}`;
  }
  await exec.run(['cp', '-a', '--', `${ROOTFS_CACHE}/.`, tree], { timeoutMs: 600_000 });
  await rm(join(tree, '.nimbo-bench-complete'), { force: true });
  return how;
}

/** Drops the downloaded packages and package lists, as nimbo's debian-12 image build does (configureRootfs). */
async function trimTree(tree: string): Promise<void> {
  for (const d of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
    for (const f of await readdir(join(tree, d)).catch(() => [] as string[])) {
      if (f !== 'partial' && f !== 'lock') await rm(join(tree, d, f), { recursive: true, force: true });
    }
  }
}

/** Builds the disk; returns its path and a description. */
async function buildData(dir: string): Promise<{ raw: string; what: string }> {
  const tree = join(dir, 'tree');
  await mkdir(tree);
  const how = await debianTree(tree);
  await trimTree(tree);
  const debian = await duBytes(tree);
  const nRandom = await writeRandomFiles(join(tree, 'srv/bench/blobs'), RANDOM, SEED);
  const nText = await writeTextFiles(join(tree, 'var/log/bench'), TEXT, SEED + 1);
  const raw = join(dir, 'disk', 'disk.raw');
  await mkdir(join(dir, 'disk'), { mode: 0o755 });
  await makeDisk(exec, tree, raw, DISK);
  await rmTree(tree);
  const used = Number((await exec.run(['du', '-B1', raw])).stdout.split('\t')[0]);
  return {
    raw,
    what: `${mib(DISK)} disk, ${mib(used)} allocated: Debian 12 tree ${mib(debian)} (${how}), ${nRandom} random files ${mib(RANDOM)}, ${nText} log/CSV files ${mib(TEXT)}`,
  };
}

/** Runs a nimbo step; a failure is printed and ends nimbo's part of the run (the peers go on), and the exit code is 1. */
async function tryNimbo<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    console.log(`backup: nimbo ${what} failed: ${(e instanceof Error ? e.message : String(e)).trim()}`);
    process.exitCode = 1;
    return undefined;
  }
}

/** One row of a step across the tools ("-" where a tool did not run). */
function row(cells: { name: string; text?: string }[]): string {
  return cells.map((c) => `${c.name} ${c.text ?? 'n/a'}`).join(' | ');
}

const t0 = performance.now();
try {
  if (process.getuid?.() !== 0) throw new Error('bench/backup needs root (mmdebstrap, QEMU, bridges)');
  for (const tool of ['restic', 'borg', 'mmdebstrap', 'mke2fs', 'sfdisk', 'qemu-img']) {
    if ((await exec.run(['which', tool], { allowFailure: true })).code !== 0) throw new Error(`${tool} is missing (run: bash scripts/setup.sh scripts/bench-packages.txt)`);
  }
  const need = DISK * 5;
  const st = await statfs(tmpdir());
  if (st.bavail * st.bsize < need) throw new Error(`${tmpdir()} has ${mib(st.bavail * st.bsize)} free; needs about ${mib(need)}`);
  work = await mkdtemp(join(tmpdir(), `nimbo-bkb${randomBytes(2).toString('hex')}-`));
  await chmod(work, 0o711); // QEMU (as nimbo-qemu) reads the region files and the image source in here

  const data = await buildData(work);
  const raw = data.raw;
  log(`backup: data ${data.what}`);
  const changeBytes = Math.round((DISK * CHANGE_PERCENT) / 100 / (64 * 1024)) * 64 * 1024;
  const regions = planChanges(SEED, DISK, changeBytes);
  const touched = chunksTouched(regions, NIMBO_CHUNK);
  log(`backup: change ${mib(changeBytes)} = ${CHANGE_PERCENT} % of the whole ${mib(DISK)} disk (used and unused), ${regions.length} regions ` +
    `of 64 KiB..4 MiB at 64 KiB-aligned random offsets (seed ${SEED}), new random bytes; they touch ${touched} of ${DISK / NIMBO_CHUNK} 4 MiB chunks (${mib(touched * NIMBO_CHUNK)})`);

  const passFile = join(work, 'passphrase');
  const passphrase = randomBytes(24).toString('base64url');
  await writeFile(passFile, `${passphrase}\n`, { mode: 0o600 });
  const peers: BackupTool[] = [restic(work, raw, passFile), borg(work, raw, passphrase, BORG_CHUNKER, BORG_COMPRESSION)];
  for (const p of peers) {
    await p.init();
    log(`backup: settings ${p.settings}`);
  }

  // nimbo: a VM running on the same disk, and an encrypted datastore
  let nimboOk = false;
  const storeDir = join(work, 'nimbo-store');
  if (WITH_NIMBO) {
    nimbo = await nimboStart(raw, DISK);
    nimboOk = await nimboHasBackup(nimbo.d);
    if (nimboOk) {
      nimboOk = (await tryNimbo('store create', () => nimboCreateStore(nimbo!, 'bench', storeDir, passFile).then(() => true))) === true;
      if (nimboOk) log('backup: settings nimbo: encrypted datastore (AES-256-GCM, key wrapped by the passphrase), zstd, fixed 4 MiB chunks, SHA-256; a running VM');
    } else {
      log('backup: nimbo: this build has no `nimbo backup`; its columns read n/a (the VM runs and gets the same changes)');
    }
  }

  // Full backups
  const full = new Map<string, Step>();
  let nimboFull: NimboBackup | undefined;
  if (nimboOk && nimbo) {
    const r = await tryNimbo('full backup', () => nimboBackup(nimbo!, 'bench', true));
    nimboFull = r?.backup;
    if (r) full.set('nimbo', { seconds: r.seconds, bytes: await duBytes(storeDir) });
    else nimboOk = false;
  }
  for (const p of peers) full.set(p.name, await p.backup('full'));
  const fn = full.get('nimbo');
  const fr = full.get('restic')!;
  log(`backup: full        ${row(['nimbo', 'restic', 'borg'].map((name) => ({ name, text: full.get(name) && `${secs(full.get(name)!.seconds)} ${mib(full.get(name)!.bytes)}` })))}` +
    ` | nimbo/restic time ${ratio(fn?.seconds, fr.seconds)} (target <= 0.8) size ${ratio(fn?.bytes, fr.bytes)} (target <= 1.0)`);

  // The change: the same bytes into the VM's disk (through QEMU) and into the raw file
  if (nimbo) {
    const files = await writeRegionFiles(join(work, 'regions'), SEED, regions);
    const s = await nimboWrite(nimbo, regions, files);
    await rmTree(join(work, 'regions'));
    log(`backup: change written into the running VM through QEMU (qemu-io over QMP, daemon stopped and restarted around it) in ${secs(s)}`);
  }
  await applyChanges(raw, SEED, regions);
  const sha = await sha256File(raw);

  // Incrementals
  const incr = new Map<string, Step>();
  let nimboIncr: NimboBackup | undefined;
  let qemuRead: number | undefined;
  if (nimboOk && nimbo) {
    const r = await tryNimbo('incremental backup', () => nimboBackup(nimbo!, 'bench', false));
    nimboIncr = r?.backup;
    qemuRead = r?.qemuRead;
    if (r) incr.set('nimbo', { seconds: r.seconds, bytes: await duBytes(storeDir) });
  }
  for (const p of peers) incr.set(p.name, await p.backup('incremental'));
  const growth = (n: string) => (incr.get(n) && full.get(n) ? incr.get(n)!.bytes - full.get(n)!.bytes : undefined);
  const inN = incr.get('nimbo');
  const inR = incr.get('restic')!;
  log(`backup: incremental ${row(['nimbo', 'restic', 'borg'].map((name) => ({ name, text: incr.get(name) && `${secs(incr.get(name)!.seconds)} +${mib(growth(name)!)}` })))}` +
    ` | nimbo/restic time ${ratio(inN?.seconds, inR.seconds)} growth ${ratio(growth('nimbo'), growth('restic')!)}`);
  if (nimboIncr) {
    const read = nimboIncr.stats.bytesRead;
    log(`backup: incremental read nimbo ${mib(read)} of ${mib(changeBytes)} changed (${(read / changeBytes).toFixed(2)}x, target <= 1.2; mode ${nimboIncr.mode}, ` +
      `full read ${mib(nimboFull?.stats.bytesRead ?? 0)}; QEMU's own read syscalls meanwhile ${mib(qemuRead ?? 0)}); restic and borg read the whole ${mib(DISK)}`);
    log(`backup: nimbo's own seconds (Backup stats): full ${secs(nimboFull?.stats.seconds ?? 0)}, incremental ${secs(nimboIncr.stats.seconds)}; ` +
      `chunks new/reused: full ${nimboFull?.stats.chunksNew ?? 0}/${nimboFull?.stats.chunksReused ?? 0}, incremental ${nimboIncr.stats.chunksNew}/${nimboIncr.stats.chunksReused}`);
  } else {
    log(`backup: incremental read nimbo n/a of ${mib(changeBytes)} changed; restic and borg read the whole ${mib(DISK)}`);
  }

  // Restores, each checked against the changed disk
  const restored = new Map<string, { seconds: number; same: boolean }>();
  let nimboAs: number | undefined;
  if (nimboIncr && nimbo) {
    const file = join(work, 'nimbo-export.raw');
    const id = nimboIncr.id;
    const seconds = await tryNimbo('export', () => nimboExport(nimbo!, 'bench', id, file));
    if (seconds !== undefined) restored.set('nimbo', { seconds, same: existsSync(file) && (await sha256File(file)) === sha });
    await rm(file, { force: true });
    nimboAs = await tryNimbo('restore --as', () => nimboRestoreAs(nimbo!, 'bench', id, 'bk2'));
  }
  for (const p of peers) {
    const dir = join(work, `${p.name}-restore`);
    const r = await p.restore(dir);
    restored.set(p.name, { seconds: r.seconds, same: existsSync(r.file) && (await sha256File(r.file)) === sha });
    await rmTree(dir);
  }
  const rn = restored.get('nimbo');
  log(`backup: restore     ${row(['nimbo', 'restic', 'borg'].map((name) => ({ name, text: restored.get(name) && secs(restored.get(name)!.seconds) })))}` +
    ` | nimbo/restic time ${ratio(rn?.seconds, restored.get('restic')!.seconds)}${nimboAs === undefined ? '' : `; nimbo restore --as a new VM ${secs(nimboAs)}`}`);
  if (nimbo) {
    const same = await nimboDiskEquals(nimbo, raw);
    log(`backup: the VM's disk after the change equals the peers' raw file: ${same ? 'yes' : 'NO'}`);
  }
  const all = [...restored.values()].every((r) => r.same);
  log(`backup: restore checksum ${row(['nimbo', 'restic', 'borg'].map((name) => ({ name, text: restored.get(name) && (restored.get(name)!.same ? 'yes' : 'NO') })))}`);
  log(`backup: total ${secs((performance.now() - t0) / 1000)}`);
  log(`backup: restore checksum identical: ${all ? 'yes' : 'NO'}`);
  if (!all) process.exitCode = 1;
} catch (e) {
  console.error(`backup: failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
