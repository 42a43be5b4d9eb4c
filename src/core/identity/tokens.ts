// API tokens: `nimbo_<id>_<secret>`, shown once; the store keeps their SHA-256 only. A token has a name,
// read or write access, an optional project, an optional expiry, a last-used time and a revocation time.
import { NimboError, invalid, notFound } from '../../lib/errors.js';
import { casUpdate } from '../../store/cas.js';
import { keys } from '../../store/keys.js';
import type { Store } from '../../store/store.js';
import type { Token, TokenCreate } from '../../shared/identity-types.js';
import type { Principal } from './principal.js';
import type { TokenRecord, UserRecord } from './records.js';
import { newToken, sameDigest, sha256, tokenId, tokenLabel } from './secrets.js';

/** The id of the token made from a legacy admin.token (a file from before users existed). */
export const LEGACY_TOKEN_ID = 'admin';
/** lastUsedAt is written at most this often per token (a store write per request would be too many). */
export const LAST_USED_EVERY_MS = 60_000;

/** A token's wire view: never its secret or hash. */
export function tokenView(t: TokenRecord): Token {
  const { sha256: _hash, userId: _uid, userName, ...rest } = t;
  return { ...rest, user: userName };
}

/** Why a token is refused, as one sentence (401). */
export class TokenRefused extends NimboError {
  constructor(message: string) {
    super('Unauthorized', message);
  }
}

/** API tokens in the store. */
export class TokenService {
  constructor(private readonly store: Store) {}

  /**
   * Make a token for `user`. A token may only make tokens no broader than itself: a read-only token makes
   * read-only ones, and a token limited to a project makes tokens limited to that project.
   */
  async create(user: UserRecord, input: TokenCreate, caller?: Principal, now = new Date()): Promise<{ token: Token; secret: string }> {
    const limit = caller?.token;
    const access = input.access ?? (limit?.access === 'read' ? 'read' : 'write');
    if (limit?.access === 'read' && access === 'write') throw new NimboError('Forbidden', 'a read-only token cannot create a read-write token');
    const project = input.project ?? limit?.project;
    if (limit?.project && project !== limit.project) throw new NimboError('Forbidden', `a token limited to project ${limit.project} can only create tokens limited to it`);
    const { id, token } = newToken();
    const rec: TokenRecord = {
      id,
      name: input.name,
      userId: user.id,
      userName: user.name,
      access,
      ...(project ? { project } : {}),
      sha256: sha256(token),
      createdAt: now.toISOString(),
      ...(input.expiresIn ? { expiresAt: new Date(now.getTime() + input.expiresIn * 1000).toISOString() } : {}),
    };
    await this.store.put(keys.token(id), rec, { expectRevision: 0 });
    return { token: tokenView(rec), secret: token };
  }

  /** Record the legacy admin token (`token` is the whole file content) as a write token of `user`. */
  async adoptLegacy(user: UserRecord, token: string): Promise<void> {
    await casUpdate<TokenRecord>(this.store, keys.token(LEGACY_TOKEN_ID), (cur) => {
      const hash = sha256(token);
      if (cur && cur.userId === user.id && cur.sha256 === hash) return undefined;
      return { id: LEGACY_TOKEN_ID, name: 'admin.token', userId: user.id, userName: user.name, access: 'write', sha256: hash, createdAt: cur?.createdAt ?? new Date().toISOString() };
    });
  }

  /** Record a `nimbo_<id>_<secret>` token read from a file, unless its id is recorded already (a revoked one stays revoked). */
  async adopt(user: UserRecord, token: string, name: string): Promise<void> {
    const id = tokenId(token);
    if (!id) throw invalid('not a nimbo_<id>_<secret> token');
    await casUpdate<TokenRecord>(this.store, keys.token(id), (cur) =>
      cur ? undefined : { id, name, userId: user.id, userName: user.name, access: 'write', sha256: sha256(token), createdAt: new Date().toISOString() });
  }

  /** The tokens of user `userId` (every token when undefined), oldest first. */
  async list(userId?: string): Promise<Token[]> {
    const all = (await this.store.list<TokenRecord>(keys.tokens)).map((kv) => kv.value).filter((t) => userId === undefined || t.userId === userId);
    return all.sort((a, b) => a.createdAt.localeCompare(b.createdAt)).map(tokenView);
  }

  /** Revoke token `id`; only its owner or a platform admin may (anyone else is told it does not exist). */
  async revoke(id: string, caller: Principal, now = new Date()): Promise<Token> {
    const res = await casUpdate<TokenRecord>(this.store, keys.token(id), (cur) => {
      if (!cur || (cur.userId !== caller.userId && caller.platformRole !== 'admin')) throw notFound(`token ${id}`);
      return cur.revokedAt ? undefined : { ...cur, revokedAt: now.toISOString() };
    });
    return tokenView(res!.value);
  }

  /** The record of a presented token, or a TokenRefused saying why not (unknown, wrong secret, revoked, expired). */
  async verify(token: string, now = new Date()): Promise<TokenRecord> {
    const id = tokenId(token) ?? LEGACY_TOKEN_ID;
    const kv = await this.store.get<TokenRecord>(keys.token(id));
    const label = id === LEGACY_TOKEN_ID ? 'the token' : `token ${tokenLabel(id)}`;
    if (!kv || !kv.value.userId || !sameDigest(kv.value.sha256, sha256(token))) throw new TokenRefused(`${label} is not valid (unknown token or wrong secret)`);
    const t = kv.value;
    if (t.revokedAt) throw new TokenRefused(`${label} was revoked at ${t.revokedAt}`);
    if (t.expiresAt && Date.parse(t.expiresAt) <= now.getTime()) throw new TokenRefused(`${label} expired at ${t.expiresAt}`);
    return t;
  }

  /** Note that `t` was used now; writes at most once per LAST_USED_EVERY_MS, and never fails the request. */
  async touch(t: TokenRecord, now = new Date()): Promise<void> {
    if (t.lastUsedAt && now.getTime() - Date.parse(t.lastUsedAt) < LAST_USED_EVERY_MS) return;
    await casUpdate<TokenRecord>(this.store, keys.token(t.id), (cur) => {
      if (!cur || (cur.lastUsedAt && now.getTime() - Date.parse(cur.lastUsedAt) < LAST_USED_EVERY_MS)) return undefined;
      return { ...cur, lastUsedAt: now.toISOString() };
    }, { attempts: 2 }).catch(() => undefined);
  }
}
