// Filesystem helpers shared by the file-based drivers (dir, btrfs). Plain file operations use
// node:fs; copies and disk usage go through HostExec with argv arrays.
import { randomBytes } from 'node:crypto';
import { chmod, chown, link, lstat, mkdir, rm, stat, statfs, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { HostExec } from '../../host/exec.js';
import { conflict } from '../../core/errors.js';

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

/** mkdir -p. */
export async function ensureDir(dir: string, mode = 0o755): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
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
