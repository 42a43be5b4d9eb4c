// Authentication: who a bearer token or a session cookie stands for, as a Principal (user, platform role,
// project roles, token scope). The API's authentication hook (api/authn.ts) calls this and nothing else.
import { dirname, join } from 'node:path';
import { NimboError } from '../lib/errors.js';
import { keys } from '../store/keys.js';
import type { Store } from '../store/store.js';
import type { Principal } from './identity/principal.js';
import { ProjectService } from './identity/projects.js';
import type { SessionRecord, TokenRecord, UserRecord } from './identity/records.js';
import { SessionService, sessionExpiry } from './identity/sessions.js';
import { TokenService } from './identity/tokens.js';
import { ensureFirstAdmin } from './identity/first-admin.js';

export type { TokenRecord };

/** The principal of user `u` (its memberships read now), refused when the user is gone or disabled. */
async function principalOf(store: Store, userId: string, userName: string, via: Principal['via']): Promise<{ principal: Principal; user: UserRecord }> {
  const u = (await store.get<UserRecord>(keys.user(userName)))?.value;
  if (!u || u.id !== userId) throw new NimboError('Unauthorized', `user ${userName} no longer exists`);
  if (u.disabled) throw new NimboError('Unauthorized', `user ${userName} is disabled`);
  const projects = await new ProjectService(store).rolesOf(u.name);
  const principal: Principal = { userId: u.id, userName: u.name, via, ...(u.platformRole ? { platformRole: u.platformRole } : {}), defaultProject: u.defaultProject, projects };
  return { principal, user: u };
}

/** The principal of a bearer token; an Unauthorized NimboError says why not (unknown, revoked, expired). */
export async function authenticateToken(store: Store, token: string, now = new Date()): Promise<Principal> {
  const tokens = new TokenService(store);
  const t = await tokens.verify(token, now);
  const { principal } = await principalOf(store, t.userId, t.userName, 'token');
  await tokens.touch(t, now);
  return { ...principal, token: { id: t.id, access: t.access, ...(t.project ? { project: t.project } : {}) } };
}

/** A session found from its cookie: the principal, and what the panel needs (CSRF token, expiry). */
export interface SessionAuth {
  principal: Principal;
  session: SessionRecord;
  expiresAt: Date;
}

/** The principal of a session cookie; Unauthorized when the session is unknown, expired or its user gone. */
export async function authenticateSession(store: Store, cookie: string, now = new Date()): Promise<SessionAuth> {
  const session = await new SessionService(store).verify(cookie, now);
  const { principal } = await principalOf(store, session.userId, session.userName, 'session');
  return { principal: { ...principal, sessionId: cookie }, session, expiresAt: sessionExpiry({ ...session, lastSeenAt: now.toISOString() }) };
}

/**
 * Whether what `p` was proved with still holds now: its user exists and is enabled, its API token is not
 * revoked or expired, its login session has not ended. Unauthorized saying why otherwise (long-lived
 * WebSockets ask this again and again: api/ws-recheck.ts).
 */
export async function recheckPrincipal(store: Store, p: Principal, now = new Date()): Promise<void> {
  await principalOf(store, p.userId, p.userName, p.via);
  if (p.token) {
    const t = (await store.get<TokenRecord>(keys.token(p.token.id)))?.value;
    if (!t) throw new NimboError('Unauthorized', `token ${p.token.id} no longer exists`);
    if (t.revokedAt) throw new NimboError('Unauthorized', `token ${p.token.id} was revoked at ${t.revokedAt}`);
    if (t.expiresAt && Date.parse(t.expiresAt) <= now.getTime()) throw new NimboError('Unauthorized', `token ${p.token.id} expired at ${t.expiresAt}`);
  }
  if (p.sessionId) await new SessionService(store).verify(p.sessionId, now);
}

/**
 * Ensure the first admin and its token exist (see identity/first-admin.ts); returns the token in `file`.
 * The credentials file (admin.credentials) sits next to it.
 */
export async function ensureAdminToken(store: Store, file: string): Promise<string> {
  return ensureFirstAdmin(store, file, join(dirname(file), 'admin.credentials'));
}

/** Check a bearer token; returns its record or undefined (for callers that need no reason). */
export async function verifyToken(store: Store, token: string | undefined): Promise<TokenRecord | undefined> {
  if (!token) return undefined;
  return new TokenService(store).verify(token).catch(() => undefined);
}
