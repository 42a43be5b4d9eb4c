// The POSIX tar format (pax interchange, IEEE Std 1003.1-2017 "pax"): 512-byte ustar headers,
// pax extended headers ('x') for what ustar cannot hold (long names, big ids and sizes, xattrs as
// SCHILY.xattr.* like GNU tar and star). Pure encode/decode; the tree walk and extraction live beside.
// https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13_03
import { invalid } from '../lib/errors.js';

export const BLOCK = 512;

/** The entry kinds nimbo writes and extracts. */
export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

const FLAG_OF: Record<TarEntryType, string> = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };
const TYPE_OF: Record<string, TarEntryType> = { '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo' };

/** One archive member, as written or after its pax records were applied. */
export interface TarHeader {
  name: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes (name -> raw value). */
  xattrs?: Map<string, Buffer>;
}

const MAX_OCTAL = (width: number) => 8 ** (width - 1) - 1;

function writeOctal(buf: Buffer, off: number, width: number, v: number): void {
  buf.write(v.toString(8).padStart(width - 1, '0') + '\0', off, width, 'latin1');
}

function writeBytes(buf: Buffer, off: number, width: number, s: string): void {
  Buffer.from(s, 'utf8').copy(buf, off, 0, width);
}

/** The first bytes of `s` (at most `max`), cut at a character boundary. */
function truncUtf8(s: string, max: number): string {
  let b = Buffer.from(s, 'utf8');
  if (b.length <= max) return s;
  b = b.subarray(0, max);
  return b.toString('utf8').replace(/\uFFFD+$/, '');
}

/** One pax record "LEN key=value\n" (LEN counts the whole record, itself included). */
export function paxRecord(key: string, value: Buffer | string): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8'), Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len), 'latin1'), body]);
}

function ustarBlock(h: Omit<TarHeader, 'xattrs'>, flag: string): Buffer {
  const b = Buffer.alloc(BLOCK);
  writeBytes(b, 0, 100, h.name);
  writeOctal(b, 100, 8, h.mode & 0o7777);
  writeOctal(b, 108, 8, Math.min(h.uid, MAX_OCTAL(8)));
  writeOctal(b, 116, 8, Math.min(h.gid, MAX_OCTAL(8)));
  writeOctal(b, 124, 12, Math.min(h.size, MAX_OCTAL(12)));
  writeOctal(b, 136, 12, Math.max(0, Math.min(h.mtime, MAX_OCTAL(12))));
  b.write(flag, 156, 1, 'latin1');
  if (h.linkname) writeBytes(b, 157, 100, h.linkname);
  b.write('ustar\x0000', 257, 8, 'latin1');
  if (h.devmajor !== undefined) writeOctal(b, 329, 8, h.devmajor);
  if (h.devminor !== undefined) writeOctal(b, 337, 8, h.devminor);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return b;
}

const pad = (n: number) => (BLOCK - (n % BLOCK)) % BLOCK;

/** Zero bytes that fill a member's data of `size` bytes up to a block. */
export const paddingOf = (size: number): Buffer => Buffer.alloc(pad(size));

/** The header block(s) of one member: a pax header first when ustar's fields cannot hold it. Pure. */
export function encodeHeader(h: TarHeader): Buffer {
  const recs: Buffer[] = [];
  const nameLen = Buffer.byteLength(h.name, 'utf8');
  if (nameLen > 100) recs.push(paxRecord('path', h.name));
  if (h.linkname && Buffer.byteLength(h.linkname, 'utf8') > 100) recs.push(paxRecord('linkpath', h.linkname));
  if (h.uid > MAX_OCTAL(8)) recs.push(paxRecord('uid', String(h.uid)));
  if (h.gid > MAX_OCTAL(8)) recs.push(paxRecord('gid', String(h.gid)));
  if (h.size > MAX_OCTAL(12)) recs.push(paxRecord('size', String(h.size)));
  if (h.mtime < 0 || h.mtime > MAX_OCTAL(12)) recs.push(paxRecord('mtime', String(h.mtime)));
  for (const [k, v] of h.xattrs ?? []) recs.push(paxRecord(`SCHILY.xattr.${k}`, v));
  const main = ustarBlock({ ...h, name: truncUtf8(h.name, 100), ...(h.linkname ? { linkname: truncUtf8(h.linkname, 100) } : {}) }, FLAG_OF[h.type]);
  if (!recs.length) return main;
  const data = Buffer.concat(recs);
  const base = h.name.replace(/\/+$/, '').split('/').pop() || '.';
  const paxHdr = ustarBlock({ name: truncUtf8(`PaxHeaders/${base}`, 100), type: 'file', mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: Math.max(0, h.mtime) }, 'x');
  return Buffer.concat([paxHdr, data, paddingOf(data.length), main]);
}

/** Two zero blocks: the end of an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

function readNumber(b: Buffer, off: number, width: number, what: string): number {
  const f = b.subarray(off, off + width);
  if (f[0]! & 0x80) {
    // GNU base-256 for values octal cannot hold (positive only).
    let v = 0;
    for (let i = 1; i < width; i++) v = v * 256 + f[i]!;
    return v + (f[0]! & 0x3f) * 256 ** (width - 1);
  }
  const s = f.toString('latin1').replace(/[\0 ]+$/, '').replace(/^[\0 ]+/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw invalid(`not a tar archive: bad ${what} field ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

const cstr = (b: Buffer, off: number, width: number) => {
  const f = b.subarray(off, off + width);
  const z = f.indexOf(0);
  return f.subarray(0, z < 0 ? width : z).toString('utf8');
};

/** A raw header block: its type flag and fields (prefix joined to the name). Throws InvalidArgument on a bad checksum. Pure. */
export function decodeHeader(b: Buffer): { flag: string; header: Omit<TarHeader, 'type'> & { type?: TarEntryType } } {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i]!;
  const stored = readNumber(b, 148, 8, 'checksum');
  if (stored !== sum) throw invalid('not a tar archive, or a corrupt header (checksum mismatch)');
  const flag = String.fromCharCode(b[156]!);
  const magic = b.subarray(257, 262).toString('latin1');
  const prefix = magic === 'ustar' ? cstr(b, 345, 155) : '';
  const name = cstr(b, 0, 100);
  const type = TYPE_OF[flag];
  return {
    flag,
    header: {
      name: prefix ? `${prefix}/${name}` : name,
      ...(type ? { type } : {}),
      mode: readNumber(b, 100, 8, 'mode'),
      uid: readNumber(b, 108, 8, 'uid'),
      gid: readNumber(b, 116, 8, 'gid'),
      size: readNumber(b, 124, 12, 'size'),
      mtime: readNumber(b, 136, 12, 'mtime'),
      linkname: cstr(b, 157, 100),
      devmajor: readNumber(b, 329, 8, 'devmajor'),
      devminor: readNumber(b, 337, 8, 'devminor'),
    },
  };
}

/** The records of a pax extended header (key -> raw value). Throws InvalidArgument when malformed. Pure. */
export function parsePax(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let i = 0;
  while (i < data.length) {
    if (data[i] === 0) break; // padding some writers leave
    const sp = data.indexOf(0x20, i);
    const len = sp < 0 ? NaN : Number(data.subarray(i, sp).toString('latin1'));
    if (!Number.isInteger(len) || len <= 0 || i + len > data.length || data[i + len - 1] !== 0x0a) throw invalid('malformed pax extended header');
    const rec = data.subarray(sp + 1, i + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw invalid('malformed pax extended header');
    out.set(rec.subarray(0, eq).toString('utf8'), rec.subarray(eq + 1));
    i += len;
  }
  return out;
}
