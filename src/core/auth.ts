import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import type { Store } from '../store/store.js';
import { keys } from '../store/keys.js';

/** A stored API token (only its SHA-256 is kept). */
export interface TokenRecord {
  id: string;
  name: string;
  role: 'admin';
  sha256: string;
  createdAt: string;
}

const hash = (t: string) => createHash('sha256').update(t).digest('hex');

/** Ensure the admin token exists: read it from `file` or generate it (mode 0600) and record its hash. */
export async function ensureAdminToken(store: Store, file: string): Promise<string> {
  let token: string;
  if (existsSync(file)) token = readFileSync(file, 'utf8').trim();
  else {
    token = `nimbo_${randomBytes(24).toString('base64url')}`;
    writeFileSync(file, token + '\n', { mode: 0o600 });
  }
  chmodSync(file, 0o600);
  const rec: TokenRecord = { id: 'admin', name: 'admin', role: 'admin', sha256: hash(token), createdAt: new Date().toISOString() };
  const cur = await store.get<TokenRecord>(keys.token('admin'));
  if (cur?.value.sha256 !== rec.sha256) await store.put(keys.token('admin'), rec);
  return token;
}

/** Check a bearer token against the stored hashes; returns the token record or undefined. */
export async function verifyToken(store: Store, token: string | undefined): Promise<TokenRecord | undefined> {
  if (!token) return undefined;
  const h = Buffer.from(hash(token), 'hex');
  for (const kv of await store.list<TokenRecord>(keys.tokens)) {
    const want = Buffer.from(kv.value.sha256, 'hex');
    if (want.length === h.length && timingSafeEqual(want, h)) return kv.value;
  }
  return undefined;
}
