// Extraction of a tar stream (pax, ustar, GNU long names) into an EMPTY directory, owners shifted
// into a container's host range. The archive is untrusted: absolute names and '..' are refused,
// every parent must be a directory this extraction made (so nothing is ever written through a
// symlink the archive planted), hardlinks only point at earlier non-directory entries, files are
// created O_EXCL|O_NOFOLLOW. Nothing outside the target is touched; on an error the target holds a
// partial tree the caller removes.
import { chmodSync, closeSync, constants, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, symlinkSync, writeSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { join } from 'node:path';
import type { HostExec } from '../host/exec.js';
import { invalid } from '../lib/errors.js';
import { BLOCK, decodeHeader, parsePax, type TarEntryType, type TarHeader } from './tar-format.js';
import { keptXattr, writeXattrs } from './tree-xattrs.js';

/** How to extract. */
export interface ExtractOptions {
  /** Host id that container id 0 becomes, and how many ids the container has. */
  idBase: number;
  idCount: number;
  /** Runs mknod and the xattr writer. */
  exec: HostExec;
  log?: (line: string) => void;
}

/** What an extraction made. */
export interface ExtractStats {
  entries: number;
  files: number;
  dataBytes: number;
  /** Entries whose archive owner was ≥ idCount (given the container's 65534). */
  unmappedIds: number;
}

const NOBODY = 65534;
const META_MAX = 1024 * 1024;
const XATTR_BATCH = 2000;
/** Longest stretch of synchronous calls before the event loop gets a turn. */
const SLICE_MS = 5;

/** Pulls exact byte counts out of a chunked source without holding more than one chunk ahead. */
class ByteSource {
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer | string>;
  private eof = false;
  offset = 0;
  constructor(src: AsyncIterable<Buffer | string>) {
    this.it = src[Symbol.asyncIterator]();
  }
  private async fill(min: number): Promise<void> {
    while (this.buf.length < min && !this.eof) {
      const r = await this.it.next();
      if (r.done) this.eof = true;
      else this.buf = this.buf.length ? Buffer.concat([this.buf, Buffer.from(r.value)]) : Buffer.from(r.value);
    }
  }
  /** Exactly n bytes, or null at a clean end of input (nothing left). */
  async exact(n: number): Promise<Buffer | null> {
    await this.fill(n);
    if (this.buf.length === 0 && this.eof) return null;
    if (this.buf.length < n) throw invalid('the tar archive is truncated');
    return this.take(n);
  }
  /** Between 1 and n bytes (n > 0). */
  async some(n: number): Promise<Buffer> {
    await this.fill(1);
    if (!this.buf.length) throw invalid('the tar archive is truncated');
    return this.take(Math.min(n, this.buf.length));
  }
  async skip(n: number): Promise<void> {
    while (n > 0) n -= (await this.some(n)).length;
  }
  private take(n: number): Buffer {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.offset += n;
    return out;
  }
  async close(): Promise<void> {
    await this.it.return?.();
  }
}

const padOf = (n: number) => (BLOCK - (n % BLOCK)) % BLOCK;

/** The entry name as path components under the target; InvalidArgument for absolute names and '..'. Pure. */
export function safeParts(name: string): string[] {
  if (name.startsWith('/')) throw invalid(`archive entry ${JSON.stringify(name)} has an absolute path`);
  if (name.includes('\0')) throw invalid(`archive entry ${JSON.stringify(name)} has a NUL in its name`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw invalid(`archive entry ${JSON.stringify(name)} leads outside the target ('..')`);
  return parts;
}

/** Extracts the tar stream `src` into the empty directory `target`, container ids shifted by idBase. */
export async function extractTar(src: AsyncIterable<Buffer | string>, target: string, o: ExtractOptions): Promise<ExtractStats> {
  const st = await lstat(target).catch(() => null);
  if (!st?.isDirectory()) throw invalid(`restore target ${target} is not a directory`);
  if ((await readdir(target)).length) throw invalid(`restore target ${target} is not empty`);
  const stats: ExtractStats = { entries: 0, files: 0, dataBytes: 0, unmappedIds: 0 };
  const dirs = new Set<string>(['']); // relative paths of the directories this extraction made
  const dirAttrs: Array<{ full: string; mode: number; uid: number; gid: number; mtime: number }> = [];
  let fileXattrs: Array<[string, Map<string, Buffer>]> = [];
  const dirXattrs: Array<[string, Map<string, Buffer>]> = [];
  const hostId = (id: number) => {
    if (id >= 0 && id < o.idCount) return o.idBase + id;
    stats.unmappedIds++;
    return o.idBase + NOBODY;
  };
  const source = new ByteSource(src);
  const full = (rel: string) => (rel ? join(target, rel) : target);

  /** Makes missing parents (as directories of the container's root); refuses a parent that is anything else. */
  const parentOf = (parts: string[], name: string): void => {
    for (let i = 1; i < parts.length; i++) {
      const rel = parts.slice(0, i).join('/');
      if (dirs.has(rel)) continue;
      if (lstatSync(full(rel), { throwIfNoEntry: false })) throw invalid(`archive entry ${JSON.stringify(name)}: its parent /${rel} is not a directory (a symlink or file in the archive)`);
      mkdirSync(full(rel), { mode: 0o755 });
      lchownSync(full(rel), o.idBase, o.idBase);
      dirs.add(rel);
    }
  };
  /** Runs a creating call; an entry that is already there (EEXIST) is an archive naming it twice. */
  const create = <T>(name: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw invalid(`archive entry ${JSON.stringify(name)} appears twice`);
      throw e;
    }
  };
  let sliceStart = Date.now();

  try {
    let pax = new Map<string, Buffer>();
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      // Synchronous file calls hold the event loop (ten times faster than the thread pool here): give it a turn every few ms.
      if (Date.now() - sliceStart >= SLICE_MS) {
        await nextTurn();
        sliceStart = Date.now();
      }
      const block = await source.exact(BLOCK);
      if (!block || block.every((b) => b === 0)) break;
      const { flag, header } = decodeHeader(block);
      const metaSize = header.size;
      if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
        if (metaSize > META_MAX) throw invalid(`archive metadata entry of ${metaSize} bytes is too large`);
        const data = metaSize ? (await source.exact(metaSize))! : Buffer.alloc(0);
        await source.skip(padOf(metaSize));
        if (flag === 'x') pax = parsePax(data);
        else if (flag === 'L') longName = data.toString('utf8').replace(/\0+$/, '');
        else if (flag === 'K') longLink = data.toString('utf8').replace(/\0+$/, '');
        continue; // 'g': global records, nothing nimbo needs
      }
      const h: TarHeader = applyPax({ ...header, type: header.type ?? 'file' }, pax, longName, longLink);
      pax = new Map();
      longName = longLink = undefined;
      if (!header.type) throw invalid(`archive entry ${JSON.stringify(h.name)} has an unsupported type '${flag}'`);
      const parts = safeParts(h.name);
      const rel = parts.join('/');
      const path = full(rel);
      const uid = hostId(h.uid);
      const gid = hostId(h.gid);
      const mode = h.mode & 0o7777;
      stats.entries++;
      if (rel) parentOf(parts, h.name);
      if (h.type === 'dir') {
        if (!dirs.has(rel)) {
          create(h.name, () => mkdirSync(path, { mode: 0o700 }));
          dirs.add(rel);
        }
        dirAttrs.push({ full: path, mode, uid, gid, mtime: h.mtime }); // after the children: they change its mtime
        if (h.xattrs?.size) dirXattrs.push([path, h.xattrs]); // after its owner, at the end
      } else {
        if (h.type === 'file') {
          const fd = create(h.name, () => openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600));
          try {
            let left = h.size;
            while (left > 0) {
              const chunk = await source.some(Math.min(left, 1024 * 1024));
              for (let off = 0; off < chunk.length;) off += writeSync(fd, chunk, off);
              left -= chunk.length;
            }
            await source.skip(padOf(h.size));
            fchownSync(fd, uid, gid);
            fchmodSync(fd, mode); // after chown, which clears setuid/setgid
            futimesSync(fd, h.mtime, h.mtime);
          } finally {
            closeSync(fd);
          }
          stats.files++;
          stats.dataBytes += h.size;
          if (h.xattrs?.size) fileXattrs.push([path, h.xattrs]);
        } else {
          await source.skip(h.size + padOf(h.size)); // links and devices carry no data
          if (h.type === 'hardlink') {
            const to = safeParts(h.linkname ?? '');
            const toRel = to.join('/');
            const toSt = toRel ? lstatSync(full(toRel), { throwIfNoEntry: false }) : undefined;
            if (!toRel || !toSt || toSt.isDirectory() || !dirs.has(to.slice(0, -1).join('/'))) {
              throw invalid(`archive entry ${JSON.stringify(h.name)} is a hardlink to ${JSON.stringify(h.linkname)}, which is not an earlier file of the archive`);
            }
            create(h.name, () => linkSync(full(toRel), path)); // linkat without AT_SYMLINK_FOLLOW: never through a symlink
            continue; // a hardlink shares its inode's owner and mode
          }
          if (h.type === 'symlink') create(h.name, () => symlinkSync(h.linkname ?? '', path));
          else {
            if (lstatSync(path, { throwIfNoEntry: false })) throw invalid(`archive entry ${JSON.stringify(h.name)} appears twice`);
            const kind = h.type === 'char' ? ['c', String(h.devmajor ?? 0), String(h.devminor ?? 0)] : h.type === 'block' ? ['b', String(h.devmajor ?? 0), String(h.devminor ?? 0)] : ['p'];
            await o.exec.run(['mknod', '-m', '0600', path, ...kind]);
          }
          lchownSync(path, uid, gid);
          if (h.type !== 'symlink') chmodSync(path, mode); // a device or FIFO just made here: chmod follows no symlink
          lutimesSync(path, h.mtime, h.mtime);
        }
      }
      if (fileXattrs.length >= XATTR_BATCH) {
        await writeXattrs(o.exec, fileXattrs); // a file is final once written (owner and mode set)
        fileXattrs = [];
      }
    }
    for (let i = dirAttrs.length - 1; i >= 0; i--) {
      const d = dirAttrs[i]!;
      lchownSync(d.full, d.uid, d.gid);
      chmodSync(d.full, d.mode);
      lutimesSync(d.full, d.mtime, d.mtime);
    }
    await writeXattrs(o.exec, [...fileXattrs, ...dirXattrs]);
    if (stats.unmappedIds) o.log?.(`${stats.unmappedIds} entries had owners outside the container's ${o.idCount} ids and now belong to its ${NOBODY}`);
    return stats;
  } finally {
    await source.close();
  }
}

/** The header with its pax records (and GNU long names) applied; only kept xattrs are taken. */
function applyPax(h: TarHeader, pax: Map<string, Buffer>, longName?: string, longLink?: string): TarHeader {
  const out: TarHeader = { ...h };
  if (longName !== undefined) out.name = longName;
  if (longLink !== undefined) out.linkname = longLink;
  const num = (k: string, signed = false) => {
    const v = pax.get(k)?.toString('latin1');
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || (n < 0 && !signed)) throw invalid(`archive pax record ${k}=${JSON.stringify(v)} is not a number`);
    return n;
  };
  const path = pax.get('path');
  if (path) out.name = path.toString('utf8');
  const lp = pax.get('linkpath');
  if (lp) out.linkname = lp.toString('utf8');
  out.uid = num('uid') ?? out.uid;
  out.gid = num('gid') ?? out.gid;
  out.size = num('size') ?? out.size;
  if (!Number.isSafeInteger(out.size)) throw invalid(`archive entry ${JSON.stringify(out.name)} has a bad size`);
  const mt = num('mtime', true); // files from before 1970 exist
  if (mt !== undefined) out.mtime = Math.floor(mt);
  const x = new Map<string, Buffer>();
  for (const [k, v] of pax) {
    if (k.startsWith('SCHILY.xattr.') && keptXattr(k.slice('SCHILY.xattr.'.length))) x.set(k.slice('SCHILY.xattr.'.length), v);
  }
  if (x.size) out.xattrs = x;
  return out;
}

export type { TarEntryType };
