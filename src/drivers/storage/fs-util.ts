// Filesystem helpers shared by the file-based drivers (dir, btrfs). Plain file operations use
// node:fs; copies and disk usage go through HostExec with argv arrays.
import { randomBytes } from 'node:crypto';
import { chmod, chown, link, lstat, mkdir, rm, rmdir, stat, statfs, unlink, writeFile } from 'node:fs/promises';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { HostExec } from '../../host/exec.js';
import { conflict, invalid } from '../../lib/errors.js';

// statfs f_type magic numbers (linux/magic.h).
const FS_MAGIC: Record<number, string> = {
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0xef53: 'ext4',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlayfs',
  0x6969: 'nfs',
  0x2fc12fc1: 'zfs',
};

/** The filesystem type of path (or of its nearest existing ancestor). */
export async function fsTypeOf(path: string): Promise<string> {
  for (let p = path; ; p = dirname(p)) {
    const s = await statfs(p).catch(() => null);
    if (s) return FS_MAGIC[s.type] ?? `0x${s.type.toString(16)}`;
    if (p === dirname(p)) return 'unknown';
  }
}

/** Whether `cp --reflink=always` works inside dir (tried once, on a one-block file). */
export async function probeReflink(exec: HostExec, dir: string): Promise<boolean> {
  const a = join(dir, `reflink-probe-${randomHex()}`);
  const b = `${a}.copy`;
  try {
    await writeFile(a, Buffer.alloc(4096, 1));
    const res = await exec.run(['cp', '--reflink=always', '--', a, b], { allowFailure: true });
    return res.code === 0;
  } finally {
    await rm(a, { force: true });
    await rm(b, { force: true });
  }
}

/** Size, used and available bytes of the filesystem holding path. */
export async function fsSpace(path: string): Promise<{ sizeBytes: number; usedBytes: number; availableBytes: number }> {
  const s = await statfs(path);
  return { sizeBytes: s.blocks * s.bsize, usedBytes: (s.blocks - s.bfree) * s.bsize, availableBytes: s.bavail * s.bsize };
}

/** Bytes allocated on disk for one file. */
export async function allocatedBytes(file: string): Promise<number> {
  const s = await stat(file);
  return s.blocks * 512;
}

/** Bytes a directory tree occupies (du), 0 if it cannot be read. */
export async function treeBytes(exec: HostExec, dir: string): Promise<number> {
  const res = await exec.run(['du', '-s', '-x', '-B1', '--', dir], { allowFailure: true, timeoutMs: 600_000 });
  const n = Number(res.stdout.trim().split(/\s+/)[0]);
  return Number.isFinite(n) ? n : 0;
}

/** Copy a file sharing its blocks (reflink); fails on filesystems without reflinks. */
export async function reflinkCopy(exec: HostExec, src: string, dst: string): Promise<void> {
  await exec.run(['cp', '--reflink=always', '--', src, dst], { timeoutMs: 3600_000 });
}

/** Copy a file, sharing blocks when the filesystem can, keeping holes otherwise. */
export async function sparseCopy(exec: HostExec, src: string, dst: string, signal?: AbortSignal): Promise<void> {
  await exec.run(['cp', '--reflink=auto', '--sparse=always', '--', src, dst], { timeoutMs: 6 * 3600_000, signal });
}

/** A random hex string for temporary and base names. */
export function randomHex(bytes = 8): string {
  return randomBytes(bytes).toString('hex');
}

/** Move a finished file into place without ever replacing one (link, then unlink the temp). */
export async function publishFile(tmp: string, final: string, what: string): Promise<void> {
  try {
    await link(tmp, final);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw conflict(`${what} already exists`);
    throw e;
  }
  await unlink(tmp);
}

/** mkdir -p (bounded: see makeDirs). */
export async function ensureDir(dir: string, mode = 0o755): Promise<void> {
  await makeDirs(dir, mode);
}

/** Most path components makeDirs walks: PATH_MAX (4096) / 2, since each one is at least "/x". */
export const MAX_DIR_DEPTH = 2048;

/** The directories from the root down to dir, each to be tried once; refused past MAX_DIR_DEPTH. */
function dirSteps(dir: string): string[] {
  const parts = resolve(dir).split('/').filter((p) => p !== '');
  if (parts.length > MAX_DIR_DEPTH) throw invalid(`cannot create directory ${dir}: it is nested deeper than ${MAX_DIR_DEPTH} levels`);
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`);
}

/** Whether a failed mkdir of step may be passed (it is a directory already); otherwise the error to throw. */
function mkdirOutcome(target: string, step: string, e: unknown, isDir: boolean): Error | null {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EEXIST') return isDir ? null : invalid(`cannot create directory ${target}: ${step} exists and is not a directory`);
  if (code === 'ENOENT' || code === 'ENOTDIR') return invalid(`cannot create directory ${target}: ${dirname(step)} cannot hold directories`);
  return e as Error;
}

/**
 * mkdir -p that can never spin. Node's `mkdir({ recursive: true })` loops forever on a parent that exists but
 * cannot hold children (e.g. under /proc: ENOENT for the child, EEXIST for the parent, again and again).
 * Here each component of the absolute path is tried once, from the root down, and any failure other than
 * "exists as a directory" ends the walk. Returns the first directory it created (undefined when the whole
 * path existed), so a caller can undo exactly what it made (removeMadeDirs).
 */
export async function makeDirs(dir: string, mode = 0o755): Promise<string | undefined> {
  const target = resolve(dir);
  if ((await stat(target).catch(() => null))?.isDirectory()) return undefined;
  let first: string | undefined;
  for (const step of dirSteps(target)) {
    try {
      await mkdir(step, { mode });
      first ??= step;
    } catch (e) {
      const err = mkdirOutcome(target, step, e, (await stat(step).catch(() => null))?.isDirectory() ?? false);
      if (err) throw err;
    }
  }
  return first;
}

/** makeDirs for start-up code that runs before the event loop matters (same walk, same errors). */
export function makeDirsSync(dir: string, mode = 0o755): string | undefined {
  const target = resolve(dir);
  const isDir = (p: string) => statSyncOrNull(p)?.isDirectory() ?? false;
  if (isDir(target)) return undefined;
  let first: string | undefined;
  for (const step of dirSteps(target)) {
    try {
      mkdirSync(step, { mode });
      first ??= step;
    } catch (e) {
      const err = mkdirOutcome(target, step, e, isDir(step));
      if (err) throw err;
    }
  }
  return first;
}

function statSyncOrNull(p: string) {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}

/** Undo makeDirs: remove the (empty) directories from leaf up to and including first; stops at the first failure. */
export async function removeMadeDirs(leaf: string, first: string | undefined): Promise<void> {
  if (first === undefined) return;
  for (let d = resolve(leaf); d === first || d.startsWith(`${first}/`); d = dirname(d)) {
    try {
      await rmdir(d);
    } catch {
      return;
    }
  }
}

/** Whether a path exists (without following a final symlink). */
export async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/** Mode of a block volume's data file: only its owner (root, or the one VM's QEMU uid it is handed to) may open it. */
export const VOLUME_FILE_MODE = 0o600;

/** Make a new volume data file root's alone (a copy never keeps its source VM's owner) with VOLUME_FILE_MODE. */
export async function makePrivate(file: string): Promise<void> {
  if (process.getuid?.() === 0) await chown(file, 0, 0);
  await chmod(file, VOLUME_FILE_MODE);
}

/** Give `to` the owner and permissions of `from` (a replaced volume file keeps what the VM user needs). */
export async function copyOwner(from: { uid: number; gid: number; mode: number }, to: string): Promise<void> {
  await chown(to, from.uid, from.gid);
  await chmod(to, from.mode & 0o7777);
}
