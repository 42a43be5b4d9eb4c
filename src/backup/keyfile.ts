// The datastore key: a random 64-byte secret (encryption + chunk-id halves), kept in a 0600 key file and/or
// wrapped by a passphrase (scrypt + AES-256-GCM). A lost key cannot be recovered: the chunks are unreadable without it.
import { createCipheriv, createDecipheriv, createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { invalid } from '../lib/errors.js';
import { PRIVATE_FILE_MODE } from '../lib/file-modes.js';

/** A datastore key: encKey encrypts chunks (AES-256-GCM), idKey keys the chunk digests (HMAC-SHA256). */
export interface CryptKey {
  encKey: Buffer;
  idKey: Buffer;
  /** Short hex id of the key (a hash of it): tells keys apart, reveals nothing of them. */
  fingerprint: string;
}

/** A key encrypted under a passphrase, as stored in the datastore marker or given to a user. */
export interface WrappedKey {
  format: 1;
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  /** base64 */
  salt: string;
  iv: string;
  tag: string;
  data: string;
  fingerprint: string;
}

const SCRYPT = { N: 1 << 15, r: 8, p: 1 };
const HEX16 = /^[0-9a-f]{16}$/;

/** The fingerprint of key material: 16 hex of a domain-separated SHA-256. */
export function fingerprintOf(encKey: Buffer, idKey: Buffer): string {
  const h = createHash('sha256').update('nimbo-backup-key-fingerprint\0').update(encKey).update(idKey).digest('hex');
  return h.slice(0, 16);
}

function makeKey(encKey: Buffer, idKey: Buffer): CryptKey {
  if (encKey.length !== 32 || idKey.length !== 32) throw invalid('a backup key has two 32-byte halves');
  return { encKey, idKey, fingerprint: fingerprintOf(encKey, idKey) };
}

/** A new random key. */
export function newKey(): CryptKey {
  const raw = randomBytes(64);
  return makeKey(raw.subarray(0, 32), raw.subarray(32));
}

function deriveKek(passphrase: string, salt: Buffer, w: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(passphrase.normalize('NFC'), salt, 32, { ...w, maxmem: 256 * w.N * w.r + (1 << 20) }, (err, k) =>
      err ? reject(err) : resolve(k),
    ),
  );
}

/** Encrypt `key` under `passphrase` (scrypt N=2^15 r=8 p=1, random salt, AES-256-GCM). */
export async function wrapKey(key: CryptKey, passphrase: string): Promise<WrappedKey> {
  if (!passphrase) throw invalid('an empty passphrase cannot protect a backup key');
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const kek = await deriveKek(passphrase, salt, SCRYPT);
  const c = createCipheriv('aes-256-gcm', kek, iv);
  c.setAAD(Buffer.from(key.fingerprint));
  const data = Buffer.concat([c.update(Buffer.concat([key.encKey, key.idKey])), c.final()]);
  return {
    format: 1, kdf: 'scrypt', ...SCRYPT,
    salt: salt.toString('base64'), iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64'),
    data: data.toString('base64'), fingerprint: key.fingerprint,
  };
}

/** Check the shape of a wrapped key read from a file or the API. */
export function validateWrappedKey(w: unknown): WrappedKey {
  const o = w as Partial<WrappedKey> | null;
  const ok =
    !!o && typeof o === 'object' && o.format === 1 && o.kdf === 'scrypt' &&
    [o.N, o.r, o.p].every((n) => Number.isInteger(n) && (n as number) > 0) &&
    (o.N as number) <= 1 << 20 && (o.r as number) <= 32 && (o.p as number) <= 16 &&
    [o.salt, o.iv, o.tag, o.data].every((s) => typeof s === 'string') &&
    typeof o.fingerprint === 'string' && HEX16.test(o.fingerprint);
  if (!ok) throw invalid('the wrapped backup key is malformed (expected format 1, scrypt, salt/iv/tag/data, fingerprint)');
  return o as WrappedKey;
}

/** Decrypt a wrapped key; a wrong passphrase throws InvalidArgument and has no other effect. */
export async function unwrapKey(wrapped: WrappedKey, passphrase: string): Promise<CryptKey> {
  const w = validateWrappedKey(wrapped);
  const kek = await deriveKek(passphrase, Buffer.from(w.salt, 'base64'), w);
  const d = createDecipheriv('aes-256-gcm', kek, Buffer.from(w.iv, 'base64'));
  d.setAAD(Buffer.from(w.fingerprint));
  d.setAuthTag(Buffer.from(w.tag, 'base64'));
  let raw: Buffer;
  try {
    raw = Buffer.concat([d.update(Buffer.from(w.data, 'base64')), d.final()]);
  } catch {
    throw invalid(`wrong passphrase for backup key ${w.fingerprint} (or the wrapped key was altered)`);
  }
  const key = makeKey(raw.subarray(0, 32), raw.subarray(32));
  if (!timingSafeEqual(Buffer.from(key.fingerprint), Buffer.from(w.fingerprint))) {
    throw invalid(`the wrapped key does not match its fingerprint ${w.fingerprint}`);
  }
  return key;
}

/** The plain key as JSON text (keep it private: it IS the key). */
export function keyToJson(key: CryptKey): string {
  const doc = { format: 1, type: 'nimbo-backup-key', encKey: key.encKey.toString('base64'), idKey: key.idKey.toString('base64'), fingerprint: key.fingerprint };
  return JSON.stringify(doc, null, 2) + '\n';
}

/** Parse a plain key file's text (checks its fingerprint). */
export function keyFromJson(text: string): CryptKey {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw invalid('the backup key file is not JSON');
  }
  if (o?.format !== 1 || o.type !== 'nimbo-backup-key' || typeof o.encKey !== 'string' || typeof o.idKey !== 'string') {
    throw invalid('the backup key file is malformed (expected a nimbo-backup-key of format 1)');
  }
  const key = makeKey(Buffer.from(o.encKey, 'base64'), Buffer.from(o.idKey, 'base64'));
  if (o.fingerprint !== undefined && o.fingerprint !== key.fingerprint) throw invalid('the backup key file does not match its fingerprint');
  return key;
}

/** Write the plain key to a new file with mode 0600 (refuses to overwrite an existing file). */
export async function keyToFile(path: string, key: CryptKey): Promise<void> {
  await writeFile(path, keyToJson(key), { mode: PRIVATE_FILE_MODE, flag: 'wx' });
}

/** Read a plain key file. */
export async function keyFromFile(path: string): Promise<CryptKey> {
  return keyFromJson(await readFile(path, 'utf8'));
}
