import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { createGunzip } from 'node:zlib';

/*
 * A small reader for the *outer* archives nimbo imports (OCI layout tars, docker-archive tars).
 * It never extracts by member name: callers look members up by name and copy their bytes to
 * paths of their own choosing, so member names cannot place files anywhere. Layers themselves
 * are unpacked by umoci.
 *
 * Formats: ustar, GNU (long names 'L'/'K', base-256 sizes) and pax ('x' path/linkpath/size).
 */

export type TarMemberType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';

/** One archive member; offset is where its data starts in the (uncompressed) archive. */
export interface TarMember {
  name: string;
  type: TarMemberType;
  size: number;
  linkname: string;
  offset: number;
}

/** Sequential byte source: read(n) returns up to n bytes (fewer only at the end). */
interface ByteSource {
  read(n: number): Promise<Buffer>;
  skip(n: number): Promise<void>;
  readonly position: number;
}

/** Positional reads of a file: skipping costs nothing. */
class FileSource implements ByteSource {
  position = 0;
  constructor(private readonly fh: FileHandle, private readonly length: number) {}
  async read(n: number): Promise<Buffer> {
    const want = Math.max(0, Math.min(n, this.length - this.position));
    const buf = Buffer.alloc(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.fh.read(buf, got, want - got, this.position + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.position += got;
    return got === want ? buf : buf.subarray(0, got);
  }
  async skip(n: number): Promise<void> {
    this.position = Math.min(this.length, this.position + n);
  }
}

/** A stream (e.g. gunzip output) read in order. */
class StreamSource implements ByteSource {
  position = 0;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private done = false;
  constructor(private readonly it: AsyncIterator<Buffer>) {}
  private async fill(n: number): Promise<void> {
    while (this.buffered < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else {
        this.chunks.push(r.value);
        this.buffered += r.value.length;
      }
    }
  }
  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const k = Math.min(n, all.length);
    const out = all.subarray(0, k);
    const rest = all.subarray(k);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    this.position += k;
    return out;
  }
  async read(n: number): Promise<Buffer> {
    await this.fill(n);
    return this.take(n);
  }
  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      await this.fill(Math.min(left, 1 << 20));
      if (this.buffered === 0) return;
      left -= this.take(Math.min(left, this.buffered)).length;
    }
  }
}

/** Thrown for an archive that starts like a tar but is broken (truncated, bad header). */
export class TarFormatError extends Error {}

const BLOCK = 512;
const pad = (n: number) => (BLOCK - (n % BLOCK)) % BLOCK;

function cstr(b: Buffer, start: number, len: number): string {
  const s = b.subarray(start, start + len);
  const z = s.indexOf(0);
  return (z < 0 ? s : s.subarray(0, z)).toString('utf8');
}

function octal(b: Buffer, start: number, len: number): number {
  const f = b.subarray(start, start + len);
  if (f[0]! & 0x80) {
    // GNU base-256 (big-endian, first byte's high bit set); negative values are invalid here.
    if (f[0] === 0xff) return NaN;
    let v = f[0]! & 0x7f;
    for (let i = 1; i < f.length; i++) v = v * 256 + f[i]!;
    return v;
  }
  const s = cstr(b, start, len).trim();
  if (s === '') return 0;
  return /^[0-7]+$/.test(s) ? parseInt(s, 8) : NaN;
}

/** Whether a 512-byte block is a valid tar header (checksum matches; unsigned or signed sum). */
export function isTarHeader(h: Buffer): boolean {
  if (h.length < BLOCK) return false;
  const want = octal(h, 148, 8);
  if (!Number.isFinite(want)) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  // An all-zero block sums to 256 (the spaces): never a member header.
  return unsigned !== 256 && (want === unsigned || want === signed);
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(data.subarray(i, sp).toString('ascii'), 10);
    if (!(len > 0) || i + len > data.length) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8'); // drop trailing \n
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** The name members are looked up by: "./a//b/" and "a/b" are the same. */
export function normalizeMemberName(name: string): string {
  let n = name.replace(/\/+/g, '/');
  while (n.startsWith('./')) n = n.slice(2);
  if (n.endsWith('/')) n = n.slice(0, -1);
  return n;
}

const TYPES: Record<string, TarMemberType> = { '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '5': 'dir' };

/**
 * Walks the members of a tar. `visit` may read the member's data (once) with `body()`;
 * return false to stop early. Returns false if the source is not a tar at all (first header
 * invalid); throws TarFormatError if it is a broken one.
 */
async function walk(src: ByteSource, visit: (m: TarMember, body: (max: number) => Promise<Buffer>) => Promise<boolean | void>): Promise<boolean> {
  let first = true;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  for (;;) {
    const h = await src.read(BLOCK);
    if (h.length === 0 && !first) return true; // no end-of-archive blocks: accept, like GNU tar
    if (h.length < BLOCK) {
      if (first) return false;
      throw new TarFormatError('truncated archive (partial header block)');
    }
    if (h.every((c) => c === 0)) {
      if (first) return false;
      return true;
    }
    if (!isTarHeader(h)) {
      if (first) return false;
      throw new TarFormatError(`bad tar header checksum at byte ${src.position - BLOCK}`);
    }
    first = false;
    const flag = String.fromCharCode(h[156]!);
    let size = octal(h, 124, 12);
    if (!Number.isSafeInteger(size) || size < 0) throw new TarFormatError(`bad member size at byte ${src.position - BLOCK}`);
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > 16 << 20) throw new TarFormatError('oversized extended header');
      const data = await src.read(size);
      if (data.length < size) throw new TarFormatError('truncated archive (extended header)');
      await src.skip(pad(size));
      if (flag === 'x') pax = { ...pax, ...parsePax(data) };
      else if (flag === 'L') longName = cstr(data, 0, data.length);
      else if (flag === 'K') longLink = cstr(data, 0, data.length);
      continue; // 'g' (global) carries nothing we use
    }
    const magic = h.subarray(257, 263).toString('latin1');
    const prefix = magic === 'ustar\0' ? cstr(h, 345, 155) : '';
    let name = longName ?? (prefix ? `${prefix}/${cstr(h, 0, 100)}` : cstr(h, 0, 100));
    let linkname = longLink ?? cstr(h, 157, 100);
    if (pax.path !== undefined) name = pax.path;
    if (pax.linkpath !== undefined) linkname = pax.linkpath;
    if (pax.size !== undefined && /^\d+$/.test(pax.size)) size = Number(pax.size);
    longName = longLink = undefined;
    pax = {};
    const type = TYPES[flag] ?? 'other';
    // Only regular files carry data blocks (hard links, links, dirs and devices have none even if size is set).
    const dataSize = type === 'file' || type === 'other' ? size : 0;
    const m: TarMember = { name: normalizeMemberName(name), type, size: dataSize, linkname, offset: src.position };
    let consumed = 0;
    const body = async (max: number): Promise<Buffer> => {
      if (consumed) throw new Error('tar member body read twice');
      if (dataSize > max) throw new TarFormatError(`member ${m.name} is ${dataSize} bytes (limit ${max})`);
      const data = await src.read(dataSize);
      consumed = data.length;
      if (data.length < dataSize) throw new TarFormatError(`truncated archive (member ${m.name})`);
      return data;
    };
    const go = await visit(m, body);
    await src.skip(dataSize - consumed + pad(dataSize));
    if (go === false) return true;
  }
}

/** Whether the file starts with the gzip magic bytes. */
export async function isGzipFile(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await fh.read(b, 0, 2, 0);
    return bytesRead === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/**
 * Indexes an uncompressed tar by member name (a later member of the same name wins, as when
 * extracting). Returns null if the file is not a tar. Only reads the headers.
 */
export async function indexTar(file: string): Promise<Map<string, TarMember> | null> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const members = new Map<string, TarMember>();
    const ok = await walk(new FileSource(fh, size), async (m) => {
      if (m.offset + m.size > size) throw new TarFormatError(`truncated archive (member ${m.name})`);
      members.set(m.name, m);
    });
    return ok ? members : null;
  } finally {
    await fh.close();
  }
}

/**
 * Streams a (possibly gzip-compressed) tar once and returns the data of the wanted small
 * members (by normalized name), or null if it is not a tar. `stopWhen` ends the scan early.
 */
export async function scanTarMembers(
  file: string,
  wanted: (name: string) => boolean,
  opts: { gzip?: boolean; maxBytes?: number; stopWhen?: (found: Map<string, Buffer>) => boolean } = {},
): Promise<{ found: Map<string, Buffer>; names: Map<string, TarMember> } | null> {
  const max = opts.maxBytes ?? 4 << 20;
  const found = new Map<string, Buffer>();
  const names = new Map<string, TarMember>();
  if (!opts.gzip) {
    const index = await indexTar(file);
    if (!index) return null;
    const fh = await open(file, 'r');
    try {
      for (const [name, m] of index) {
        if (m.type !== 'file' || !wanted(name) || m.size > max) continue;
        const buf = Buffer.alloc(m.size);
        await fh.read(buf, 0, m.size, m.offset);
        found.set(name, buf);
      }
    } finally {
      await fh.close();
    }
    return { found, names: index };
  }
  const stream = createReadStream(file).pipe(createGunzip());
  try {
    const ok = await walk(new StreamSource(stream[Symbol.asyncIterator]()), async (m, body) => {
      names.set(m.name, m);
      if (m.type === 'file' && wanted(m.name) && m.size <= max) found.set(m.name, await body(max));
      else found.delete(m.name);
      return !(opts.stopWhen?.(found) ?? false);
    });
    return ok ? { found, names } : null;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code?.startsWith?.('Z_')) throw new TarFormatError(`broken gzip data: ${(e as Error).message}`);
    throw e;
  } finally {
    stream.destroy();
  }
}

/**
 * Follows hard and symbolic links between members (as `docker save` writes for shared
 * layers) to the regular file they name. Links are resolved inside the archive only.
 */
export function resolveMember(index: Map<string, TarMember>, name: string): TarMember | undefined {
  let cur = index.get(normalizeMemberName(name));
  for (let hops = 0; cur && hops < 16; hops++) {
    if (cur.type === 'file') return cur;
    if (cur.type === 'hardlink') cur = index.get(normalizeMemberName(cur.linkname));
    else if (cur.type === 'symlink') {
      if (cur.linkname.startsWith('/')) return undefined;
      const target = posix.normalize(posix.join(posix.dirname(cur.name), cur.linkname));
      if (target === '..' || target.startsWith('../')) return undefined;
      cur = index.get(normalizeMemberName(target));
    } else return undefined;
  }
  return undefined;
}
