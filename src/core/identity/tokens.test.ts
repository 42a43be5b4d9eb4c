import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { keys } from '../../store/keys.js';
import { identityServices, type IdentityServices } from './services.js';
import { tokenId } from './secrets.js';
import type { Principal } from './principal.js';
import type { TokenRecord, UserRecord } from './records.js';

let dir: string;
let store: SqliteStore;
let svc: IdentityServices;
let alice: UserRecord;
const as = (u: UserRecord, token?: Principal['token']): Principal => ({ userId: u.id, userName: u.name, via: token ? 'token' : 'session', projects: {}, ...(token ? { token } : {}) });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nimbo-tokens-'));
  store = new SqliteStore(join(dir, 'state.db'));
  svc = identityServices(store);
  await svc.projects.ensureDefault();
  await svc.users.create({ name: 'alice', password: 'alice-password' });
  alice = (await svc.users.record('alice'))!;
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a token is nimbo_<id>_<secret>; the store keeps its SHA-256 only', async () => {
  const { token, secret } = await svc.tokens.create(alice, { name: 'ci', access: 'read', project: 'default' });
  assert.match(secret, /^nimbo_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
  assert.equal(tokenId(secret), token.id);
  const rec = (await store.get<TokenRecord>(keys.token(token.id)))!.value;
  // The secret is everything after nimbo_<id>_ (base64url: it may hold '_' itself).
  assert.equal(JSON.stringify(rec).includes(secret.slice(`nimbo_${token.id}_`.length)), false, 'no secret in the record');
  assert.match(rec.sha256, /^[0-9a-f]{64}$/);
  const ok = await svc.tokens.verify(secret);
  assert.deepEqual([ok.userName, ok.access, ok.project], ['alice', 'read', 'default']);
  const listed = JSON.stringify(await svc.tokens.list(alice.id));
  assert.equal(listed.includes('sha256') || listed.includes(secret), false);
});

test('unknown, wrong-secret, revoked and expired tokens are refused, each saying which', async () => {
  const { token, secret } = await svc.tokens.create(alice, { name: 'short', expiresIn: 60 });
  const wrong = secret.slice(0, -4) + (secret.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  await assert.rejects(svc.tokens.verify(wrong), new RegExp(`token nimbo_${token.id}… is not valid`));
  await assert.rejects(svc.tokens.verify('nimbo_0123456789abcdef_' + 'x'.repeat(43)), /token nimbo_0123456789abcdef… is not valid/);
  await assert.rejects(svc.tokens.verify('not-a-token'), /the token is not valid/);
  const later = new Date(Date.now() + 61_000);
  await assert.rejects(svc.tokens.verify(secret, later), new RegExp(`token nimbo_${token.id}… expired at ${token.expiresAt!.replace(/[.]/g, '\\.')}`));
  await svc.tokens.verify(secret); // still fine now
  const revoked = await svc.tokens.revoke(token.id, as(alice));
  assert.ok(revoked.revokedAt);
  await assert.rejects(svc.tokens.verify(secret), new RegExp(`token nimbo_${token.id}… was revoked at`));
});

test('another user cannot revoke a token (it does not exist for them); a platform admin can', async () => {
  const { token } = await svc.tokens.create(alice, { name: 'mine' });
  const bob: Principal = { userId: 'someone-else', userName: 'bob', via: 'token', projects: {} };
  await assert.rejects(svc.tokens.revoke(token.id, bob), /not found/);
  assert.ok((await svc.tokens.revoke(token.id, { ...bob, platformRole: 'admin' })).revokedAt);
});

test('a token makes only tokens no broader than itself', async () => {
  const read = { id: 'x', access: 'read' as const };
  await assert.rejects(svc.tokens.create(alice, { name: 'w', access: 'write' }, as(alice, read)), /read-only token cannot create a read-write token/);
  assert.equal((await svc.tokens.create(alice, { name: 'r' }, as(alice, read))).token.access, 'read');
  const scoped = { id: 'y', access: 'write' as const, project: 'default' };
  await assert.rejects(svc.tokens.create(alice, { name: 'p', project: 'other' }, as(alice, scoped)), /limited to project default/);
  assert.equal((await svc.tokens.create(alice, { name: 'p' }, as(alice, scoped))).token.project, 'default');
});

test('lastUsedAt is written at most once a minute', async () => {
  const { token, secret } = await svc.tokens.create(alice, { name: 'busy' });
  const t0 = new Date();
  await svc.tokens.touch(await svc.tokens.verify(secret), t0);
  const rev = (await store.get(keys.token(token.id)))!.modRevision;
  await svc.tokens.touch(await svc.tokens.verify(secret), new Date(t0.getTime() + 30_000));
  assert.equal((await store.get(keys.token(token.id)))!.modRevision, rev, 'no write within the minute');
  await svc.tokens.touch(await svc.tokens.verify(secret), new Date(t0.getTime() + 61_000));
  const rec = (await store.get<TokenRecord>(keys.token(token.id)))!.value;
  assert.equal(rec.lastUsedAt, new Date(t0.getTime() + 61_000).toISOString());
});

test('a deleted user takes its tokens along; a user made again under the name does not inherit them', async () => {
  await svc.users.create({ name: 'carol', password: 'carol-password' });
  const carol = (await svc.users.record('carol'))!;
  const { secret } = await svc.tokens.create(carol, { name: 'c' });
  await svc.users.delete('carol');
  await assert.rejects(svc.tokens.verify(secret), /not valid/);
});
