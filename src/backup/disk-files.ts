// Files inside a VM disk restored from a backup, without kernel NBD: the partition table (MBR or GPT) is
// read from the raw file, a partition is attached to a read-only loop device and mounted read-only
// (ext4: noload, XFS: norecovery; nosuid, nodev, noexec) in a private directory, and paths are resolved
// inside that filesystem as if it were the root: symlinks are followed with the mount as "/", and ".."
// never climbs above it, so nothing outside the guest's filesystem is ever reached.
import { createReadStream } from 'node:fs';
import { lstat, mkdtemp, open, readdir, readlink, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { HostExec } from '../host/exec.js';
import { invalid, notFound } from '../lib/errors.js';

/** A partition (or the whole disk, index 1, when the filesystem starts at byte 0) and the filesystem found there. */
export interface DiskPartition {
  index: number;
  start: number;
  size: number;
  fs: 'ext4' | 'xfs' | null;
}

/** One directory entry. */
export interface DiskFileEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mode: number;
  mtime: string;
}

/** An open restored disk. */
export interface DiskFiles {
  partitions(): DiskPartition[];
  list(part: number, path: string): Promise<DiskFileEntry[]>;
  open(part: number, path: string): Promise<{ size: number; stream: Readable }>;
  close(): Promise<void>;
}

const SECTOR = 512;
const MAX_LINKS = 40;

/** Partitions of an MBR or GPT table in the disk's first bytes (`head`: at least 34 sectors); [] when there is none. Pure. */
export function parsePartitionTable(head: Buffer, diskSize: number): { index: number; start: number; size: number }[] {
  if (head.length < 1024 || head.readUInt16LE(510) !== 0xaa55) return [];
  const mbr = [0, 1, 2, 3].map((i) => {
    const e = 446 + i * 16;
    return { index: i + 1, type: head[e + 4]!, start: head.readUInt32LE(e + 8) * SECTOR, size: head.readUInt32LE(e + 12) * SECTOR };
  });
  if (mbr.some((p) => p.type === 0xee) && head.subarray(SECTOR, SECTOR + 8).toString('latin1') === 'EFI PART') {
    const lba = Number(head.readBigUInt64LE(SECTOR + 72));
    const count = head.readUInt32LE(SECTOR + 80);
    const size = head.readUInt32LE(SECTOR + 84);
    const out: { index: number; start: number; size: number }[] = [];
    for (let i = 0; i < Math.min(count, 128); i++) {
      const off = lba * SECTOR + i * size;
      if (off + 48 > head.length) break;
      if (head.subarray(off, off + 16).every((b) => b === 0)) continue;
      const first = Number(head.readBigUInt64LE(off + 32));
      const last = Number(head.readBigUInt64LE(off + 40));
      if (last >= first) out.push({ index: i + 1, start: first * SECTOR, size: (last - first + 1) * SECTOR });
    }
    return out.filter((p) => p.start + p.size <= diskSize);
  }
  return mbr.filter((p) => p.type !== 0 && p.type !== 0x05 && p.type !== 0x0f && p.size > 0 && p.start + p.size <= diskSize).map(({ index, start, size }) => ({ index, start, size }));
}

/** Which filesystem a superblock region (the first 2 KiB of a partition) holds. Pure. */
export function fsOf(sb: Buffer): 'ext4' | 'xfs' | null {
  if (sb.length >= 4 && sb.subarray(0, 4).toString('latin1') === 'XFSB') return 'xfs';
  if (sb.length >= 1082 && sb.readUInt16LE(1024 + 56) === 0xef53) return 'ext4';
  return null;
}

/** Where `path` (absolute, inside the filesystem) leads, following symlinks with `root` as "/"; never leaves root. */
export async function resolveInside(root: string, path: string, followLast = true): Promise<string> {
  let todo = path.split('/').filter((x) => x && x !== '.');
  const done: string[] = [];
  let links = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '..') {
      done.pop(); // at the root, ".." stays at the root
      continue;
    }
    const here = join(root, ...done, part);
    const st = await lstat(here).catch(() => undefined);
    if (!st) throw notFound(`${'/' + [...done, part].join('/')} in the backup's filesystem`);
    if (st.isSymbolicLink() && (todo.length > 0 || followLast)) {
      if (++links > MAX_LINKS) throw invalid(`too many symbolic links under ${path}`);
      const target = await readlink(here);
      const parts = target.split('/').filter((x) => x && x !== '.');
      if (target.startsWith('/')) done.length = 0;
      todo = [...parts, ...todo];
      continue;
    }
    done.push(part);
  }
  return join(root, ...done);
}

/** Open a restored raw disk file for listing and reading files (close() unmounts and detaches everything). */
export async function openDiskFiles(rawPath: string, exec: HostExec): Promise<DiskFiles> {
  const fh = await open(rawPath, 'r');
  let parts: DiskPartition[];
  try {
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(Math.min(size, 34 * SECTOR + 128 * 128));
    await fh.read(head, 0, head.length, 0);
    const table = parsePartitionTable(head, size);
    const found = table.length ? table : [{ index: 1, start: 0, size }];
    parts = [];
    for (const p of found) {
      const sb = Buffer.alloc(2048);
      await fh.read(sb, 0, sb.length, p.start);
      parts.push({ ...p, fs: fsOf(sb) });
    }
  } finally {
    await fh.close();
  }
  const mounted = new Map<number, Promise<{ dir: string; loop: string }>>();
  const mount = (index: number) => {
    let m = mounted.get(index);
    if (!m) {
      const p = parts.find((x) => x.index === index);
      if (!p) throw notFound(`partition ${index} (the disk has ${parts.map((x) => x.index).join(', ')})`);
      if (!p.fs) throw invalid(`partition ${index} holds no ext4 or XFS filesystem`);
      m = (async () => {
        const loop = (await exec.run(['losetup', '--find', '--show', '--read-only', '--offset', String(p.start), '--sizelimit', String(p.size), '--', rawPath])).stdout.trim();
        const dir = await mkdtemp(join(tmpdir(), 'nimbo-bkfiles-'));
        try {
          await exec.run(['mount', '-t', p.fs!, '-o', `ro,nosuid,nodev,noexec,${p.fs === 'xfs' ? 'norecovery,nouuid' : 'noload'}`, '--', loop, dir]);
        } catch (e) {
          await exec.run(['losetup', '-d', loop], { allowFailure: true });
          await rmdir(dir).catch(() => undefined);
          throw e;
        }
        return { dir, loop };
      })();
      mounted.set(index, m);
      m.catch(() => mounted.delete(index));
    }
    return m;
  };
  return {
    partitions: () => parts.map((p) => ({ ...p })),
    async list(part, path) {
      const { dir } = await mount(part);
      const at = await resolveInside(dir, path);
      if (!(await lstat(at)).isDirectory()) throw invalid(`${path} in the backup is not a directory`);
      const out: DiskFileEntry[] = [];
      for (const e of await readdir(at, { withFileTypes: true })) {
        const st = await lstat(join(at, e.name)).catch(() => undefined);
        if (!st) continue;
        const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
        out.push({ name: e.name, type, size: st.size, mode: st.mode & 0o7777, mtime: st.mtime.toISOString() });
      }
      return out.sort((a, b) => a.name.localeCompare(b.name));
    },
    async open(part, path) {
      const { dir } = await mount(part);
      const at = await resolveInside(dir, path);
      const st = await lstat(at);
      if (!st.isFile()) throw invalid(`${path} in the backup is not a regular file`);
      return { size: st.size, stream: createReadStream(at) };
    },
    async close() {
      for (const m of mounted.values()) {
        const got = await m.catch(() => undefined);
        if (!got) continue;
        await exec.run(['umount', got.dir], { allowFailure: true });
        await exec.run(['losetup', '-d', got.loop], { allowFailure: true });
        await rmdir(got.dir).catch(() => undefined);
      }
      mounted.clear();
    },
  };
}
