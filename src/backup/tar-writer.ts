// A container's root tree as a pax tar stream, plus a catalog (one JSON line per entry, with the
// byte offsets of its header and data in the stream) for listing and single-file restore.
// Walks with lstat and never follows a symlink; owners are mapped back from the container's host
// range to container ids. Pull-driven: a file is read only as fast as the consumer takes bytes,
// and never held whole. GNU tar reads the output (`tar -tvf`, `tar --xattrs -xf`).
import { once } from 'node:events';
import { close, closeSync, read, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
import { promisify } from 'node:util';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import type { HostExec } from '../host/exec.js';
import { encodeHeader, END_OF_ARCHIVE, paddingOf, type TarEntryType } from './tar-format.js';
import { readTreeXattrs } from './tree-xattrs.js';
import { readEntry, type TreeEntry } from './tree-entry.js';

/** One catalog line: a tree entry and where it lies in the tar stream. */
export interface CatalogEntry {
  /** Absolute path inside the container ('/' is the root). */
  path: string;
  type: TarEntryType;
  /** Data bytes (hardlinks: those of the file they link to). */
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  /** Symlinks: the link's text; hardlinks: the catalog path of the first name. */
  linkTarget?: string;
  /** Offset of the entry's first header block (its pax header, when it has one). */
  headerOffset: number;
  /** Offset of its data (regular files; hardlinks: the linked file's data). */
  dataOffset: number;
}

/** How to tar a tree. */
export interface TarTreeOptions {
  /** Host id of container id 0, and how many ids the container has. */
  idBase: number;
  idCount: number;
  /** Runs the xattr reader (python3). */
  exec: HostExec;
  /** Receives the catalog as JSON lines (backpressure respected); ended when the tar ends. */
  catalog?: Writable;
  /** Keep security.capability and user.* xattrs (default true). */
  xattrs?: boolean;
  /** Warnings (unmapped ids, skipped sockets, files that changed while read). */
  log?: (line: string) => void;
}

/** What a finished tar holds. */
export interface TarTreeStats {
  entries: number;
  files: number;
  /** Bytes of file data, and of the whole stream. */
  dataBytes: number;
  tarBytes: number;
  socketsSkipped: number;
  /** Entries whose owner was outside the container's range (stored as 65534). */
  unmappedIds: number;
  /** Entries skipped: names that are not UTF-8, entries gone or changed type while walked. */
  skipped: number;
  /** Files that shrank while read (their tail is zero-filled; a file that grew is cut at its size when opened). */
  changed: number;
}

const NOBODY = 65534;
const CHUNK = 1024 * 1024;
const BATCH = 64 * 1024;
/** Longest stretch of synchronous calls before the event loop gets a turn. */
const SLICE_MS = 5;
const readAsync = async (fd: number, buf: Buffer, off: number, len: number, pos: null) => (await promisify(read)(fd, buf, off, len, pos)).bytesRead;
const closeAsync = promisify(close);

/** rdev -> major/minor as glibc's gnu_dev_major/minor split it. */
const devMajor = (rdev: bigint) => Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
const devMinor = (rdev: bigint) => Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));

function typeOf(st: BigIntStats): TarEntryType | 'socket' | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  return undefined;
}

/**
 * Tars the tree at `root` (host path) as a pull-driven stream. `done` settles when the stream
 * ended (with its counts) or failed; a stream destroyed early rejects it.
 */
export function tarTree(root: string, opts: TarTreeOptions): { stream: Readable; done: Promise<TarTreeStats> } {
  let settle!: (s: TarTreeStats) => void;
  let fail!: (e: unknown) => void;
  const done = new Promise<TarTreeStats>((res, rej) => ((settle = res), (fail = rej)));
  done.catch(() => undefined); // the caller may only watch the stream
  const stream = Readable.from(walk(root, opts, settle, fail), { objectMode: false, highWaterMark: BATCH });
  return { stream, done };
}

async function* walk(root: string, o: TarTreeOptions, settle: (s: TarTreeStats) => void, fail: (e: unknown) => void): AsyncGenerator<Buffer> {
  const stats: TarTreeStats = { entries: 0, files: 0, dataBytes: 0, tarBytes: 0, socketsSkipped: 0, unmappedIds: 0, skipped: 0, changed: 0 };
  const log = o.log ?? (() => undefined);
  const unmappedExamples: string[] = [];
  const links = new Map<string, { path: string; dataOffset: number; size: number }>();
  // Depth first, names in byte order: the same tree gives the same stream (better dedup).
  const stack: Array<{ rel: string; names: string[]; i: number }> = [];
  let sliceStart = Date.now();
  let pending: Buffer[] = [];
  let pendingLen = 0;
  let pos = 0;
  let finished = false;
  const put = (b: Buffer) => {
    if (!b.length) return;
    pending.push(b);
    pendingLen += b.length;
    pos += b.length;
  };
  /** What is pending, small pieces joined, big ones (file data) passed on without a copy. */
  function* drain(): Generator<Buffer> {
    let group: Buffer[] = [];
    for (const b of pending) {
      if (b.length < BATCH) group.push(b);
      else {
        if (group.length) yield Buffer.concat(group);
        group = [];
        yield b;
      }
    }
    if (group.length) yield Buffer.concat(group);
    pending = [];
    pendingLen = 0;
  }
  const catalogLine = async (e: CatalogEntry) => {
    if (o.catalog && !o.catalog.write(JSON.stringify(e) + '\n')) await once(o.catalog, 'drain');
  };
  const mapId = (id: bigint, rel: string) => {
    const n = Number(id);
    if (n >= o.idBase && n < o.idBase + o.idCount) return n - o.idBase;
    stats.unmappedIds++;
    if (unmappedExamples.length < 5) unmappedExamples.push(`/${rel} (${n})`);
    return NOBODY;
  };
  try {
    const xattrs = o.xattrs === false ? new Map<string, Map<string, Buffer>>() : await readTreeXattrs(o.exec, root);
    const emit = async function* (p: TreeEntry): AsyncGenerator<Buffer> {
      const { rel, st } = p;
      const full = rel ? join(root, rel) : root;
      if (!st || p.replaced) {
        stats.skipped++; // removed or replaced while we walked (a running container)
        return;
      }
      const type = typeOf(st);
      if (type === 'socket' || type === undefined) {
        stats.socketsSkipped++;
        return;
      }
      const headerOffset = pos;
      const name = rel ? (type === 'dir' ? `./${rel}/` : `./${rel}`) : './';
      const common = { mode: Number(st.mode) & 0o7777, uid: mapId(st.uid, rel), gid: mapId(st.gid, rel), mtime: Number(st.mtimeMs / 1000n) };
      const path = `/${rel}`;
      const x = type === 'file' || type === 'dir' ? xattrs.get(rel) : undefined;
      const xa = x && x.size ? { xattrs: x } : {};
      const key = `${st.dev}:${st.ino}`;
      const first = type !== 'dir' && st.nlink > 1n ? links.get(key) : undefined;
      stats.entries++;
      if (first) {
        if (p.fd !== undefined) closeSync(p.fd);
        put(encodeHeader({ name, type: 'hardlink', size: 0, linkname: `.${first.path}`, ...common }));
        await catalogLine({ path, type: 'hardlink', size: first.size, ...common, linkTarget: first.path, headerOffset, dataOffset: first.dataOffset });
      } else if (type === 'file') {
        const size = Number(p.fst!.size);
        put(encodeHeader({ name, type, size, ...common, ...xa }));
        const dataOffset = pos;
        if (st.nlink > 1n) links.set(key, { path, dataOffset, size });
        await catalogLine({ path, type, size, ...common, headerOffset, dataOffset });
        if (p.data) put(p.data);
        else yield* fileData(p.fd!, size, rel);
        if (p.short) {
          stats.changed++;
          log(`/${rel} shrank while it was read; its tail is zero-filled`);
        }
        put(paddingOf(size));
        stats.files++;
        stats.dataBytes += size;
      } else {
        let linkname: string | undefined;
        try {
          if (type === 'symlink') linkname = readlinkSync(full, 'utf8');
        } catch {
          stats.entries--;
          stats.skipped++; // removed or replaced since the lstat (a running container)
          return;
        }
        const dev = type === 'char' || type === 'block' ? { devmajor: devMajor(st.rdev), devminor: devMinor(st.rdev) } : {};
        put(encodeHeader({ name, type, size: 0, ...common, ...xa, ...dev, ...(linkname !== undefined ? { linkname } : {}) }));
        await catalogLine({ path: rel ? path : '/', type, size: 0, ...common, ...(linkname !== undefined ? { linkTarget: linkname } : {}), headerOffset, dataOffset: pos });
        if (type !== 'dir' && st.nlink > 1n) links.set(key, { path, dataOffset: pos, size: 0 });
        if (type === 'dir') stack.push({ rel, names: listDir(full, rel, stats, log), i: 0 });
      }
      if (pendingLen >= BATCH) yield* drain();
    };
    /** A big file's data, read as the consumer takes it; a file that shrank meanwhile is zero-filled to its header's size. */
    const fileData = async function* (fd: number, size: number, rel: string): AsyncGenerator<Buffer> {
      try {
        let left = size;
        while (left > 0) {
          const buf = Buffer.allocUnsafe(Math.min(CHUNK, left));
          const bytesRead = await readAsync(fd, buf, 0, buf.length, null);
          if (bytesRead === 0) {
            stats.changed++;
            put(Buffer.alloc(left));
            log(`/${rel} shrank while it was read; its tail is zero-filled`);
            break;
          }
          put(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
          left -= bytesRead;
          if (pendingLen >= BATCH) yield* drain();
        }
      } finally {
        await closeAsync(fd);
      }
    };
    yield* emit(readEntry(root, ''));
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      if (top.i >= top.names.length) {
        stack.pop();
        continue;
      }
      const rel = top.rel ? `${top.rel}/${top.names[top.i++]}` : top.names[top.i++]!;
      yield* emit(readEntry(join(root, rel), rel));
      // Synchronous calls hold the event loop: give it a turn every few milliseconds.
      if (Date.now() - sliceStart >= SLICE_MS) {
        await nextTurn();
        sliceStart = Date.now();
      }
    }
    put(END_OF_ARCHIVE);
    stats.tarBytes = pos;
    yield* drain();
    if (stats.unmappedIds) log(`${stats.unmappedIds} entries were owned by ids outside the container's range and are stored as ${NOBODY}, e.g. ${unmappedExamples.join(', ')}`);
    if (stats.socketsSkipped) log(`${stats.socketsSkipped} sockets were skipped`);
    o.catalog?.end();
    finished = true;
    settle(stats);
  } catch (e) {
    fail(e);
    o.catalog?.destroy(e instanceof Error ? e : new Error(String(e)));
    throw e;
  } finally {
    if (!finished) fail(new Error('tar stream closed before its end'));
  }
}

/** A directory's names in byte order; names that are not UTF-8 are skipped (and counted). */
function listDir(full: string, rel: string, stats: TarTreeStats, log: (line: string) => void): string[] {
  let raw: Buffer[];
  try {
    raw = readdirSync(full, { encoding: 'buffer' }).sort(Buffer.compare);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return []; // removed while we walked (a running container)
    throw e;
  }
  const names: string[] = [];
  for (const b of raw) {
    const s = b.toString('utf8');
    if (Buffer.from(s, 'utf8').equals(b)) names.push(s);
    else {
      stats.skipped++;
      log(`skipped a name that is not UTF-8 in /${rel}: ${JSON.stringify(b.toString('latin1'))}`);
    }
  }
  return names;
}
