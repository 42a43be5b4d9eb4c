// The identity routes through the real server (authentication hook included), over a real store.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildServer } from './server.js';
import type { ApiContext } from './context.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { keys } from '../store/keys.js';
import { ensureFirstAdmin, type AdminCredentials } from '../core/identity/first-admin.js';
import type { TokenRecord } from '../core/identity/records.js';
import { silentLogger } from '../lib/log.js';
import { LoginThrottle } from './rate-limit-login.js';

let app: FastifyInstance;
let store: SqliteStore;
let dir: string;
let admin: AdminCredentials;
let now = 0;
const brake = new LoginThrottle({ freeFailures: 2 }, () => now);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nimbo-identity-'));
  store = new SqliteStore(join(dir, 'state.db'));
  await ensureFirstAdmin(store, join(dir, 'admin.token'), join(dir, 'admin.credentials'));
  admin = JSON.parse(readFileSync(join(dir, 'admin.credentials'), 'utf8')) as AdminCredentials;
  const ctx = { log: silentLogger(), store, loginThrottle: brake } as unknown as ApiContext;
  app = await buildServer(ctx);
});
after(async () => {
  await app.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

type Req = { method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'; url: string; body?: unknown; token?: string; cookie?: string; csrf?: string };
function call(r: Req): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = {};
  if (r.token) headers.authorization = `Bearer ${r.token}`;
  if (r.cookie) headers.cookie = r.cookie;
  if (r.csrf) headers['x-csrf-token'] = r.csrf;
  return app.inject({ method: r.method, url: `/api/v1${r.url}`, headers, ...(r.body !== undefined ? { payload: r.body as object } : {}) });
}
const msg = (res: LightMyRequestResponse) => (res.json() as { error: { message: string } }).error.message;

async function login(name: string, password: string): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const res = await call({ method: 'POST', url: '/auth/login', body: { name, password } });
  assert.equal(res.statusCode, 200, res.body);
  const setCookie = (res.headers['set-cookie'] as string[])[0]!;
  return { cookie: setCookie.split(';')[0]!, csrf: (res.json() as { csrfToken: string }).csrfToken, setCookie };
}

test('the first admin: admin.credentials (0600) holds user, password and the token in admin.token; a restart changes nothing', async () => {
  assert.equal(statSync(join(dir, 'admin.credentials')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'admin.token')).mode & 0o777, 0o600);
  assert.equal(admin.user, 'admin');
  assert.equal(readFileSync(join(dir, 'admin.token'), 'utf8').trim(), admin.token);
  assert.equal(await ensureFirstAdmin(store, join(dir, 'admin.token'), join(dir, 'admin.credentials')), admin.token);
  const who = await call({ method: 'GET', url: '/auth/whoami', token: admin.token });
  assert.equal(who.statusCode, 200, who.body);
  const w = who.json() as { user: { name: string; platformRole: string }; projects: Record<string, string>; via: string };
  assert.deepEqual([w.user.name, w.user.platformRole, w.projects.default, w.via], ['admin', 'admin', 'owner', 'token']);
});

test('a legacy admin.token (from before users) keeps working as a token of the first admin', async () => {
  const d = mkdtempSync(join(tmpdir(), 'nimbo-legacy-'));
  const s = new SqliteStore(join(d, 'state.db'));
  try {
    writeFileSync(join(d, 'admin.token'), 'nimbo_OLDstyleTOKENwithoutAnIdPart-1234\n', { mode: 0o644 });
    await s.put(keys.token('admin'), { id: 'admin', name: 'admin', role: 'admin', sha256: 'x', createdAt: new Date().toISOString() });
    await ensureFirstAdmin(s, join(d, 'admin.token'), join(d, 'admin.credentials'));
    assert.equal(statSync(join(d, 'admin.token')).mode & 0o777, 0o600);
    assert.equal(JSON.parse(readFileSync(join(d, 'admin.credentials'), 'utf8')).token, 'nimbo_OLDstyleTOKENwithoutAnIdPart-1234');
    const { authenticateToken } = await import('../core/auth.js');
    const p = await authenticateToken(s, 'nimbo_OLDstyleTOKENwithoutAnIdPart-1234');
    assert.deepEqual([p.userName, p.platformRole, p.token?.access], ['admin', 'admin', 'write']);
  } finally {
    await s.close();
    rmSync(d, { recursive: true, force: true });
  }
});

test('login sets an HttpOnly, SameSite=Strict session cookie on /api; a wrong password is 401; the brake stops guessing with 429 before the password is checked', async () => {
  const { setCookie, cookie, csrf } = await login('admin', admin.password);
  assert.match(setCookie, /^nimbo_session=[A-Za-z0-9_-]{43}; Path=\/api; HttpOnly; SameSite=Strict; Max-Age=604800$/);
  const who = await call({ method: 'GET', url: '/auth/whoami', cookie });
  assert.equal(who.statusCode, 200, who.body);
  assert.equal((who.json() as { csrfToken: string; via: string }).csrfToken, csrf);
  const bad = await call({ method: 'POST', url: '/auth/login', body: { name: 'admin', password: 'wrong-password' } });
  assert.equal(bad.statusCode, 401);
  assert.equal(msg(bad), 'wrong user name or password');
  assert.equal(bad.headers['set-cookie'], undefined);
  const ghost = await call({ method: 'POST', url: '/auth/login', body: { name: 'ghost', password: 'wrong-password' } });
  assert.equal(msg(ghost), 'wrong user name or password', 'an unknown user reads the same');
  // Third failure from this address: the next attempt, even with the right password, waits (Retry-After).
  assert.equal((await call({ method: 'POST', url: '/auth/login', body: { name: 'ghost', password: 'wrong-again' } })).statusCode, 401);
  const held = await call({ method: 'POST', url: '/auth/login', body: { name: 'admin', password: admin.password } });
  assert.equal(held.statusCode, 429, held.body);
  assert.equal(held.headers['retry-after'], '1');
  assert.match(msg(held), /too many failed logins: try again in 1 s/);
  now += 2000;
  assert.equal((await call({ method: 'POST', url: '/auth/login', body: { name: 'admin', password: admin.password } })).statusCode, 200);
  now += 16 * 60_000; // failures are forgotten after 15 minutes
});

test('a write with the session cookie needs the X-CSRF-Token of the session (403 without it); a GET does not', async () => {
  const { cookie, csrf } = await login('admin', admin.password);
  const none = await call({ method: 'POST', url: '/tokens', cookie, body: { name: 'x' } });
  assert.equal(none.statusCode, 403);
  assert.match(msg(none), /must carry the X-CSRF-Token header/);
  const wrong = await call({ method: 'POST', url: '/tokens', cookie, csrf: csrf.slice(1) + 'A', body: { name: 'x' } });
  assert.equal(wrong.statusCode, 403);
  assert.match(msg(wrong), /does not match this session/);
  assert.equal((await call({ method: 'GET', url: '/tokens', cookie })).statusCode, 200);
  const ok = await call({ method: 'POST', url: '/tokens', cookie, csrf, body: { name: 'panel-made' } });
  assert.equal(ok.statusCode, 201, ok.body);
  // Logout ends the session: the cookie no longer works and is cleared.
  const out = await call({ method: 'POST', url: '/auth/logout', cookie, csrf });
  assert.equal(out.statusCode, 204, out.body);
  const cleared = out.headers['set-cookie'] as string[];
  assert.match(cleared[0]!, /^nimbo_session=; Path=\/api; HttpOnly; SameSite=Strict; Max-Age=0$/);
  // The panel's marker goes too (it holds no secret, so it is readable by scripts).
  assert.match(cleared[1]!, /^nimbo_login=1; Path=\/; SameSite=Strict; Max-Age=0$/);
  const after = await call({ method: 'GET', url: '/auth/whoami', cookie });
  assert.equal(after.statusCode, 401);
  assert.match(msg(after), /session is not valid/);
});

test('tokens: the secret once at creation, never in a list; revoked and expired ones are refused with why', async () => {
  const made = await call({ method: 'POST', url: '/tokens', token: admin.token, body: { name: 'ci', access: 'read', project: 'default', expiresIn: 3600 } });
  assert.equal(made.statusCode, 201, made.body);
  const { token, secret } = made.json() as { token: { id: string; access: string; project: string; expiresAt: string }; secret: string };
  assert.deepEqual([token.access, token.project], ['read', 'default']);
  const list = await call({ method: 'GET', url: '/tokens', token: secret });
  assert.equal(list.statusCode, 200, list.body);
  // The secret part may itself hold '_' (base64url): everything after nimbo_<id>_.
  assert.equal(list.body.includes(secret.split('_').slice(2).join('_')), false);
  assert.equal(list.body.includes('sha256'), false);
  const names = (list.json() as { tokens: { name: string; lastUsedAt?: string }[] }).tokens;
  assert.ok(names.some((t) => t.name === 'ci' && t.lastUsedAt), 'lastUsedAt is set by use');
  const rev = await call({ method: 'DELETE', url: `/tokens/${token.id}`, token: admin.token });
  assert.equal(rev.statusCode, 200, rev.body);
  const refused = await call({ method: 'GET', url: '/auth/whoami', token: secret });
  assert.equal(refused.statusCode, 401);
  assert.match(msg(refused), new RegExp(`^token nimbo_${token.id}… was revoked at `));
  // Expired: the record's expiry moved into the past.
  const e = (await call({ method: 'POST', url: '/tokens', token: admin.token, body: { name: 'old' } })).json() as { token: { id: string }; secret: string };
  const rec = (await store.get<TokenRecord>(keys.token(e.token.id)))!.value;
  await store.put(keys.token(e.token.id), { ...rec, expiresAt: '2020-01-01T00:00:00.000Z' });
  const exp = await call({ method: 'GET', url: '/tokens', token: e.secret });
  assert.equal(exp.statusCode, 401);
  assert.equal(msg(exp), `token nimbo_${e.token.id}… expired at 2020-01-01T00:00:00.000Z`);
  const unknown = await call({ method: 'GET', url: '/tokens', token: `nimbo_${'0'.repeat(16)}_${'a'.repeat(43)}` });
  assert.equal(msg(unknown), `token nimbo_${'0'.repeat(16)}… is not valid (unknown token or wrong secret)`);
});

test('users, projects and members: create, roles, the last owner and admin stay, default cannot go', async () => {
  const u = await call({ method: 'POST', url: '/users', token: admin.token, body: { name: 'erin', password: 'erin-password' } });
  assert.equal(u.statusCode, 201, u.body);
  assert.equal(u.body.includes('passwordHash') || u.body.includes('scrypt'), false);
  assert.equal((await call({ method: 'POST', url: '/users', token: admin.token, body: { name: 'erin', password: 'erin-password' } })).statusCode, 409);
  const p = await call({ method: 'POST', url: '/projects', token: admin.token, body: { name: 'shop' } });
  assert.equal(p.statusCode, 201, p.body);
  assert.equal((await call({ method: 'POST', url: '/projects/shop/members', token: admin.token, body: { user: 'erin', role: 'viewer' } })).statusCode, 201);
  const last = await call({ method: 'PATCH', url: '/projects/shop/members/admin', token: admin.token, body: { role: 'member' } });
  assert.equal(last.statusCode, 409);
  assert.match(msg(last), /last owner of project shop/);
  // erin (a viewer) can list the members of shop, not change them, and sees only her projects.
  const erin = await login('erin', 'erin-password');
  const members = await call({ method: 'GET', url: '/projects/shop/members', cookie: erin.cookie });
  assert.deepEqual((members.json() as { members: { user: string; role: string }[] }).members.map((m) => `${m.user}:${m.role}`), ['admin:owner', 'erin:viewer']);
  const denied = await call({ method: 'POST', url: '/projects/shop/members', cookie: erin.cookie, csrf: erin.csrf, body: { user: 'erin', role: 'owner' } });
  assert.equal(denied.statusCode, 403);
  assert.match(msg(denied), /viewer in project shop and may not change project members/);
  const seen = (await call({ method: 'GET', url: '/projects', cookie: erin.cookie })).json() as { projects: { name: string }[] };
  assert.deepEqual(seen.projects.map((x) => x.name), ['default', 'shop']);
  await call({ method: 'POST', url: '/projects', token: admin.token, body: { name: 'secret-lab' } });
  assert.equal((await call({ method: 'GET', url: '/projects/secret-lab', cookie: erin.cookie })).statusCode, 404);
  // A token limited to shop cannot be made for a project erin is not in.
  const t = await call({ method: 'POST', url: '/tokens', cookie: erin.cookie, csrf: erin.csrf, body: { name: 'lab', project: 'secret-lab' } });
  assert.equal(t.statusCode, 403);
  // The last enabled admin stays; 'default' cannot be deleted; an empty project can, revoking its tokens.
  assert.equal((await call({ method: 'PATCH', url: '/users/admin', token: admin.token, body: { disabled: true } })).statusCode, 409);
  assert.equal((await call({ method: 'DELETE', url: '/projects/default', token: admin.token })).statusCode, 400);
  const scoped = (await call({ method: 'POST', url: '/tokens', token: admin.token, body: { name: 's', project: 'shop' } })).json() as { secret: string };
  assert.equal((await call({ method: 'DELETE', url: '/projects/shop', token: admin.token })).statusCode, 204);
  assert.match(msg(await call({ method: 'GET', url: '/tokens', token: scoped.secret })), /was revoked/);
  // A disabled user cannot log in, and its sessions end.
  assert.equal((await call({ method: 'PATCH', url: '/users/erin', token: admin.token, body: { disabled: true } })).statusCode, 200);
  assert.equal((await call({ method: 'GET', url: '/auth/whoami', cookie: erin.cookie })).statusCode, 401);
  const off = await call({ method: 'POST', url: '/auth/login', body: { name: 'erin', password: 'erin-password' } });
  assert.equal(off.statusCode, 401);
  assert.equal(msg(off), 'user erin is disabled');
});

test('own password change needs the current password; then the new one logs in', async () => {
  await call({ method: 'POST', url: '/users', token: admin.token, body: { name: 'fred', password: 'fred-password' } });
  const fred = await login('fred', 'fred-password');
  const wrong = await call({ method: 'PUT', url: '/auth/password', cookie: fred.cookie, csrf: fred.csrf, body: { currentPassword: 'nope-nope', newPassword: 'fred-password-2' } });
  assert.equal(wrong.statusCode, 403);
  const ok = await call({ method: 'PUT', url: '/auth/password', cookie: fred.cookie, csrf: fred.csrf, body: { currentPassword: 'fred-password', newPassword: 'fred-password-2' } });
  assert.equal(ok.statusCode, 204, ok.body);
  await login('fred', 'fred-password-2');
});
