// Login sessions for the web panel: a random id in an HttpOnly cookie (the store keeps its SHA-256), a CSRF
// token that every write made with the cookie must echo in X-CSRF-Token, an idle and an absolute expiry.
import { NimboError } from '../../lib/errors.js';
import { casUpdate } from '../../store/cas.js';
import { keys } from '../../store/keys.js';
import type { Store } from '../../store/store.js';
import type { SessionRecord, UserRecord } from './records.js';
import { randomSecret, sha256 } from './secrets.js';

/** A session ends after this long without a request. */
export const SESSION_IDLE_MS = 12 * 3600_000;
/** A session ends this long after login, however busy. */
export const SESSION_ABSOLUTE_MS = 7 * 86400_000;
/** lastSeenAt is written at most this often (the idle clock is that coarse). */
const SEEN_EVERY_MS = 60_000;

/** When a session ends: the earlier of its idle and its absolute expiry. */
export function sessionExpiry(s: Pick<SessionRecord, 'createdAt' | 'lastSeenAt'>): Date {
  return new Date(Math.min(Date.parse(s.lastSeenAt) + SESSION_IDLE_MS, Date.parse(s.createdAt) + SESSION_ABSOLUTE_MS));
}

/** Login sessions in the store. */
export class SessionService {
  constructor(private readonly store: Store) {}

  /** Start a session for `user`: the cookie value (shown only now), its CSRF token and expiry. */
  async create(user: UserRecord, now = new Date()): Promise<{ id: string; csrf: string; expiresAt: Date }> {
    await this.purge(now);
    const id = randomSecret(32);
    const rec: SessionRecord = { userId: user.id, userName: user.name, csrf: randomSecret(24), createdAt: now.toISOString(), lastSeenAt: now.toISOString() };
    await this.store.put(keys.session(sha256(id)), rec, { expectRevision: 0 });
    return { id, csrf: rec.csrf, expiresAt: sessionExpiry(rec) };
  }

  /** The live session of cookie value `id`, noting the activity; Unauthorized when unknown or expired. */
  async verify(id: string, now = new Date()): Promise<SessionRecord> {
    const key = keys.session(sha256(id));
    const kv = await this.store.get<SessionRecord>(key);
    if (!kv) throw new NimboError('Unauthorized', 'the session is not valid (logged out, or never existed): log in again');
    const end = sessionExpiry(kv.value);
    if (end.getTime() <= now.getTime()) {
      await this.store.delete(key);
      throw new NimboError('Unauthorized', `the session expired at ${end.toISOString()}: log in again`);
    }
    if (now.getTime() - Date.parse(kv.value.lastSeenAt) >= SEEN_EVERY_MS) {
      await casUpdate<SessionRecord>(this.store, key, (cur) => (cur ? { ...cur, lastSeenAt: now.toISOString() } : undefined), { attempts: 2 }).catch(() => undefined);
    }
    return kv.value;
  }

  /** End the session of cookie value `id` (no error when it is gone already). */
  async end(id: string): Promise<void> {
    await this.store.delete(keys.session(sha256(id)));
  }

  /** Drop expired sessions (at each login, so the store does not keep them forever). */
  async purge(now = new Date()): Promise<void> {
    for (const kv of await this.store.list<SessionRecord>(keys.sessions)) if (sessionExpiry(kv.value).getTime() <= now.getTime()) await this.store.delete(kv.key);
  }
}
