// Password hashing with Node's own scrypt (node:crypto, maintained with Node itself). A stored hash
// describes itself, `scrypt$ln=15,r=8,p=1$SALT$HASH` (base64url), so the cost can be raised later
// and old hashes still verify. Comparison is constant-time (timingSafeEqual).
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { invalid } from '../../lib/errors.js';

/** The cost new hashes get: N = 2^15, r = 8, p = 1 (OWASP's minimum for scrypt), 16-byte salt, 32-byte key. */
export const SCRYPT_COST = { ln: 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Shortest and longest password accepted (the long end bounds the work one request can cause). */
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 1024;

const FORMAT = /^scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{16,})$/;

function derive(password: string, salt: Buffer, ln: number, r: number, p: number, len: number): Promise<Buffer> {
  const N = 2 ** ln;
  // scrypt needs 128 * N * r bytes; Node's default cap (32 MiB) is exactly that at N=2^15, r=8: leave room.
  const opts: ScryptOptions = { N, r, p, maxmem: 256 * N * r + 1024 * 1024 };
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, len, opts, (e, key) => (e ? reject(e) : resolve(key))));
}

/** Refuse a password that is too short or too long (one clear sentence). */
export function checkPasswordPolicy(password: string): void {
  if (typeof password !== 'string' || password.length < PASSWORD_MIN) throw invalid(`the password must have at least ${PASSWORD_MIN} characters`);
  if (password.length > PASSWORD_MAX) throw invalid(`the password must have at most ${PASSWORD_MAX} characters`);
}

/** Hash `password` with a fresh random salt; returns the self-describing string to store. */
export async function hashPassword(password: string): Promise<string> {
  const { ln, r, p } = SCRYPT_COST;
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, ln, r, p, KEY_BYTES);
  return `scrypt$ln=${ln},r=${r},p=${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Whether `password` matches `stored` (false for a malformed or out-of-bounds hash, never an exception). */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = FORMAT.exec(stored);
  if (!m || typeof password !== 'string' || password.length > PASSWORD_MAX) return false;
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Bounds keep a damaged record from costing minutes or gigabytes per try.
  if (ln < 14 || ln > 20 || r < 1 || r > 32 || p < 1 || p > 16) return false;
  const want = Buffer.from(m[5]!, 'base64url');
  // At least 32 bytes: scrypt's output for a shorter length is a prefix of the longer one, so a cut key would still match.
  if (want.length < KEY_BYTES || want.length > 64) return false;
  const got = await derive(password, Buffer.from(m[4]!, 'base64url'), ln, r, p, want.length);
  return timingSafeEqual(got, want);
}

/** A hash of a random password: verified against when the user does not exist, so that costs the same time. */
let dummy: Promise<string> | undefined;
/** The hash to check an unknown user's login against (same cost as a real one). */
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(16).toString('base64url'));
  return dummy;
}
