// How a chunk is stored: a small header (magic, version, flags), the payload compressed with zstd (or deflate
// where the zstd binding cannot load; flags say which), then AES-256-GCM with a random IV when the store is keyed.
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { deflateRaw, inflateRaw } from 'node:zlib';
import { NimboError, invalid } from '../lib/errors.js';
import type { CryptKey } from './keyfile.js';

const MAGIC = Buffer.from('NBCK');
const VERSION = 1;
/** Header: magic(4) version(1) flags(1) reserved(2). */
export const BLOB_HEADER = 8;
const F_ZSTD = 1;
const F_DEFLATE = 2;
const F_ENCRYPTED = 4;
const IV = 12;
const TAG = 16;

type Compression = 'zstd' | 'deflate' | 'none';
interface Zstd {
  compress(b: Buffer, level?: number): Promise<Buffer>;
  decompress(b: Buffer): Promise<Buffer>;
}

let zstdLoad: Promise<Zstd | null> | undefined;
/** The zstd binding, or null where it cannot load (then chunks are deflated). */
export function loadZstd(): Promise<Zstd | null> {
  zstdLoad ??= import('@mongodb-js/zstd').then(
    (m) => ((m as unknown as { default?: Zstd }).default?.compress ? (m as unknown as { default: Zstd }).default : (m as unknown as Zstd)),
    () => null,
  );
  return zstdLoad;
}

const deflate = promisify(deflateRaw);
const inflate = promisify(inflateRaw);

/** Turns plaintext chunks into stored blobs and back, and names them by digest. */
export interface ChunkCodec {
  /** Fingerprint of the key, or null for an unencrypted store. */
  readonly keyFingerprint: string | null;
  /** Which compressor encode() uses. */
  readonly compression: Compression;
  /** Hex SHA-256 of the plaintext (HMAC-SHA256 under the id key when keyed, so digests leak nothing). */
  digest(plain: Buffer): string;
  /** Compress (if it shrinks) and encrypt (when keyed). */
  encode(plain: Buffer): Promise<Buffer>;
  /** Check header and tag, decrypt, decompress; a foreign-key or altered blob throws. */
  decode(blob: Buffer): Promise<Buffer>;
}

/** Options of makeCodec: tests force a compressor; the level is zstd's. */
export interface CodecOptions {
  level?: number;
  compression?: Compression;
}

/** A codec for a store with `key` (null: unencrypted). */
export async function makeCodec(key: CryptKey | null, opts: CodecOptions = {}): Promise<ChunkCodec> {
  const zstd = await loadZstd();
  const compression: Compression = opts.compression ?? (zstd ? 'zstd' : 'deflate');
  if (compression === 'zstd' && !zstd) throw new NimboError('Internal', 'the zstd binding (@mongodb-js/zstd) cannot be loaded');
  const level = opts.level ?? 3;
  const corrupt = (why: string) => new NimboError('Internal', `backup chunk cannot be read: ${why}`);

  return {
    keyFingerprint: key?.fingerprint ?? null,
    compression,
    digest(plain) {
      return (key ? createHmac('sha256', key.idKey) : createHash('sha256')).update(plain).digest('hex');
    },
    async encode(plain) {
      let flags = 0;
      let body = plain;
      if (compression !== 'none' && plain.length > 0) {
        const packed = compression === 'zstd' ? await zstd!.compress(plain, level) : await deflate(plain, { level: 3 });
        // Incompressible data (already compressed, random) is stored as is: smaller and faster to restore.
        if (packed.length < plain.length) {
          body = packed;
          flags |= compression === 'zstd' ? F_ZSTD : F_DEFLATE;
        }
      }
      const header = Buffer.alloc(BLOB_HEADER);
      MAGIC.copy(header, 0);
      header[4] = VERSION;
      if (!key) {
        header[5] = flags;
        return Buffer.concat([header, body]);
      }
      header[5] = flags | F_ENCRYPTED;
      const iv = randomBytes(IV);
      const c = createCipheriv('aes-256-gcm', key.encKey, iv);
      c.setAAD(header);
      const ct = c.update(body);
      c.final();
      return Buffer.concat([header, iv, ct, c.getAuthTag()]);
    },
    async decode(blob) {
      if (blob.length < BLOB_HEADER || !blob.subarray(0, 4).equals(MAGIC)) throw corrupt('not a nimbo chunk (bad magic)');
      if (blob[4] !== VERSION) throw corrupt(`unknown chunk version ${blob[4]}`);
      const flags = blob[5]!;
      if (flags & ~(F_ZSTD | F_DEFLATE | F_ENCRYPTED) || (flags & F_ZSTD && flags & F_DEFLATE)) throw corrupt(`unknown chunk flags ${flags}`);
      let body: Buffer;
      if (flags & F_ENCRYPTED) {
        if (!key) throw invalid('this backup chunk is encrypted: the datastore key is needed to read it');
        if (blob.length < BLOB_HEADER + IV + TAG) throw corrupt('encrypted chunk is truncated');
        const d = createDecipheriv('aes-256-gcm', key.encKey, blob.subarray(BLOB_HEADER, BLOB_HEADER + IV));
        d.setAAD(blob.subarray(0, BLOB_HEADER));
        d.setAuthTag(blob.subarray(blob.length - TAG));
        try {
          body = Buffer.concat([d.update(blob.subarray(BLOB_HEADER + IV, blob.length - TAG)), d.final()]);
        } catch {
          throw invalid(`backup chunk was not written with key ${key.fingerprint}, or it was altered (authentication failed)`);
        }
      } else {
        // In an encrypted store a plaintext chunk could have been planted by anyone with write access: refuse it.
        if (key) throw invalid('backup chunk is not encrypted, but this datastore is: refusing it');
        body = blob.subarray(BLOB_HEADER);
      }
      try {
        if (flags & F_ZSTD) {
          if (!zstd) throw new Error('it is zstd-compressed and the zstd binding cannot be loaded here');
          return await zstd.decompress(body);
        }
        if (flags & F_DEFLATE) return await inflate(body);
      } catch (e) {
        throw corrupt(`decompression failed (${(e as Error).message})`);
      }
      return body;
    },
  };
}
