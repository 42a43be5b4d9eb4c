// Single-file restore from a restored (sparse, raw) VM disk: partitions from its table, a partition
// mounted read-only through a loop device (no kernel NBD needed), paths resolved strictly inside it.
import { createReadStream, type ReadStream } from 'node:fs';
import { lstat, mkdtemp, open as openFile, readdir, readlink, rmdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import type { HostExec } from '../host/exec.js';
import { conflict, invalid, notFound } from '../lib/errors.js';
import { Reverter } from '../lib/reverter.js';
import { detectFs, parsePartitionTable, PARTITION_TABLE_BYTES, SUPERBLOCK_BYTES, type DiskPartition } from './disk-partitions.js';

/** One entry of a directory listing inside a partition. */
export interface DiskFileEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mode: number;
  mtimeMs: number;
}

/** An opened disk image: its partitions, each mounted read-only on first use; close() undoes every mount. */
export interface DiskFiles {
  partitions(): DiskPartition[];
  /** Entries of the directory at `path` (absolute inside the partition). */
  list(part: number, path: string): Promise<DiskFileEntry[]>;
  /** A regular file's size and a stream of its bytes. */
  open(part: number, path: string): Promise<{ size: number; stream: NodeJS.ReadableStream }>;
  close(): Promise<void>;
}

const MAX_LINKS = 40;

/** Open the raw disk image at `rawPath` for single-file restore (reads its partition table; mounts nothing yet); mount points go in `mountDir` (default the temp dir). */
export async function openDiskFiles(rawPath: string, exec: HostExec, mountDir = tmpdir()): Promise<DiskFiles> {
  const size = (await stat(rawPath)).size;
  const fh = await openFile(rawPath, 'r');
  let parts: DiskPartition[];
  try {
    const read = async (at: number, n: number) => {
      const b = Buffer.alloc(n);
      const { bytesRead } = await fh.read(b, 0, n, at);
      return b.subarray(0, bytesRead);
    };
    const table = parsePartitionTable(await read(0, PARTITION_TABLE_BYTES), size);
    const found = table.length ? table : [{ index: 0, start: 0, size }];
    parts = [];
    for (const p of found) parts.push({ ...p, fs: detectFs(await read(p.start, SUPERBLOCK_BYTES)) });
  } finally {
    await fh.close();
  }
  const mounts = new Map<number, { dir: string; undo: Reverter }>();
  const streams = new Set<ReadStream>();
  let closed = false;

  const mountOf = async (index: number): Promise<string> => {
    if (closed) throw conflict('the disk image is closed');
    const m = mounts.get(index);
    if (m) return m.dir;
    const p = parts.find((x) => x.index === index);
    if (!p) throw notFound(`partition ${index} (the disk has ${parts.map((x) => x.index).join(', ') || 'none'})`);
    if (!p.fs) throw invalid(`partition ${index} has no ext4 or XFS filesystem`);
    // Kept after success: these same steps are how close() unmounts.
    const undo = new Reverter();
    let dir: string;
    try {
      const loop = (await exec.run(['losetup', '--find', '--show', '--read-only', '--offset', String(p.start), '--sizelimit', String(p.size), '--', rawPath])).stdout.trim();
      undo.add(`detach ${loop}`, () => exec.run(['losetup', '-d', loop]));
      dir = await mkdtemp(join(mountDir, 'nimbo-diskfiles-'));
      const mp = dir;
      undo.add(`remove ${mp}`, () => rmdir(mp));
      // No journal replay (the image stays untouched) and nothing on it can act on the host.
      const opts = `ro,nodev,nosuid,noexec,${p.fs === 'xfs' ? 'norecovery' : 'noload'}`;
      await exec.run(['mount', '-t', p.fs, '-o', opts, '--', loop, mp]);
      undo.add(`unmount ${mp}`, () => exec.run(['umount', '--', mp]));
    } catch (e) {
      await undo.revert();
      throw e;
    }
    mounts.set(index, { dir, undo });
    return dir;
  };

  return {
    partitions: () => parts.map((p) => ({ ...p })),
    async list(part, path) {
      const root = await mountOf(part);
      const dir = await resolveInside(root, path);
      if (!(await lstat(dir)).isDirectory()) throw invalid(`${path} is not a directory`);
      const out: DiskFileEntry[] = [];
      for (const name of (await readdir(dir)).sort()) {
        const st = await lstat(join(dir, name));
        const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
        out.push({ name, type, size: st.size, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs });
      }
      return out;
    },
    async open(part, path) {
      const root = await mountOf(part);
      const file = await resolveInside(root, path);
      const st = await lstat(file);
      if (!st.isFile()) throw invalid(`${path} is not a regular file`);
      const stream = createReadStream(file);
      streams.add(stream);
      stream.on('close', () => streams.delete(stream));
      return { size: st.size, stream };
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const s of streams) s.destroy();
      await Promise.all([...streams].map((s) => new Promise<void>((r) => (s.closed ? r() : s.once('close', () => r())))));
      const failed: string[] = [];
      for (const m of mounts.values()) failed.push(...(await m.undo.revert()));
      mounts.clear();
      if (failed.length) throw conflict(`disk image ${rawPath}: cleanup failed: ${failed.join('; ')}`);
    },
  };
}

/**
 * The host path of `path` inside the mount at `root`, resolved component by component with lstat: `..`
 * never climbs above the root, a relative symlink is followed only while it stays inside, and an absolute
 * one is refused (where it points depends on where the guest mounts this partition).
 */
export async function resolveInside(root: string, path: string): Promise<string> {
  if (!path.startsWith('/') || path.includes('\0')) throw invalid(`path must be absolute inside the partition: ${JSON.stringify(path)}`);
  const todo = path.split('/').filter((c) => c !== '' && c !== '.');
  const done: string[] = [];
  let links = 0;
  while (todo.length) {
    const c = todo.shift()!;
    if (c === '..') {
      if (done.length === 0) throw invalid(`${path} climbs above the partition's root`);
      done.pop();
      continue;
    }
    const here = join(root, ...done, c);
    const st = await lstat(here).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') throw notFound(`${posix.join('/', ...done, c)} in the partition`);
      throw e;
    });
    if (!st.isSymbolicLink()) {
      if (todo.length && !st.isDirectory()) throw invalid(`${posix.join('/', ...done, c)} is not a directory`);
      done.push(c);
      continue;
    }
    if (++links > MAX_LINKS) throw invalid(`${path}: too many levels of symbolic links`);
    const target = await readlink(here);
    if (target.startsWith('/')) throw invalid(`${posix.join('/', ...done, c)} is a symlink to the absolute path ${target}: refused (it may point outside this partition)`);
    const rest = target.split('/').filter((x) => x !== '' && x !== '.');
    // Climbing out through the link is an escape, not a path to clamp.
    let depth = done.length;
    for (const x of rest) {
      depth += x === '..' ? -1 : 1;
      if (depth < 0) throw invalid(`${posix.join('/', ...done, c)} is a symlink to ${target}, outside the partition: refused`);
    }
    todo.unshift(...rest);
  }
  return join(root, ...done);
}
