// One entry of a tree walk, read with synchronous calls: on a tree of small files each entry
// costs 4-5 system calls (lstat, open, fstat, read, close), and a round trip through libuv's thread
// pool per call made the walk ten times slower than GNU tar (measured here: 47,646 files of
// /usr/share, 13-16 s through the pool, 1.5 s synchronous). The walk bounds how long it holds the
// event loop (tar-writer.ts); only a big file's data, read in many calls, goes through the pool.
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, type BigIntStats } from 'node:fs';

/** An entry ready to be written: its lstat (null: gone), and for a regular file its data or an open fd. */
export interface TreeEntry {
  rel: string;
  st: BigIntStats | null;
  /** Regular files: fstat of the opened file (its size is what the header states). */
  fst?: BigIntStats;
  /** Small regular files: all their bytes. */
  data?: Buffer;
  /** Big regular files: the open fd, read (and closed) by the caller. */
  fd?: number;
  /** Small files that shrank while read (their tail is zeros). */
  short?: boolean;
  /** Replaced between lstat and open (another inode, a symlink, not a file). */
  replaced?: boolean;
}

/** Files up to this size are read whole here. */
export const SMALL_FILE = 64 * 1024;

/** lstat's the entry and, for a regular file, opens it (never through a symlink, never blocking on a FIFO) and reads it if small. */
export function readEntry(full: string, rel: string): TreeEntry {
  let st: BigIntStats | null;
  try {
    st = lstatSync(full, { bigint: true });
  } catch (e) {
    // Gone, or a parent turned into a non-directory, while a running container changed its tree.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return { rel, st: null };
    throw e;
  }
  if (!st?.isFile()) return { rel, st };
  let fd: number;
  try {
    fd = openSync(full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return { rel, st, replaced: true };
  }
  let keep = false;
  try {
    const fst = fstatSync(fd, { bigint: true });
    if (!fst.isFile() || fst.ino !== st.ino) return { rel, st, replaced: true };
    if (fst.size > BigInt(SMALL_FILE)) {
      keep = true;
      return { rel, st, fst, fd };
    }
    const size = Number(fst.size);
    const data = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, data, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    if (got < size) data.fill(0, got); // shrank while read: the header already says `size`
    return { rel, st, fst, data, ...(got < size ? { short: true } : {}) };
  } finally {
    if (!keep) closeSync(fd);
  }
}
