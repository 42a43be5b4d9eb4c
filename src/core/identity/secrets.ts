// The secrets nimbo hands out (API tokens, session cookies, CSRF tokens) and their stored form:
// only the SHA-256 of a token or session id is kept, so a copy of the store logs nobody in.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** SHA-256 of `s`, hex. */
export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** Constant-time equality of two hex digests (false when their lengths differ). */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** A random secret of `bytes` bytes, base64url. */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

const TOKEN = /^nimbo_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** A new API token: its id (public, shown in lists) and the whole secret `nimbo_<id>_<secret>`. */
export function newToken(): { id: string; token: string } {
  const id = randomBytes(8).toString('hex');
  return { id, token: `nimbo_${id}_${randomSecret(32)}` };
}

/** The id of a token in the `nimbo_<id>_<secret>` form; undefined for any other text (e.g. a legacy admin token). */
export function tokenId(token: string): string | undefined {
  return TOKEN.exec(token)?.[1];
}

/** How a token is named in messages: its id and never its secret. */
export function tokenLabel(id: string): string {
  return `nimbo_${id}…`;
}
