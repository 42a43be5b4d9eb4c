// The audit hook on the real server: mutating calls and logins are recorded (who, what, from where,
// when, result), reads are not, and no secret from a request body reaches the log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildServer } from './server.js';
import type { ApiContext } from './context.js';
import { ensureAdminToken } from '../core/auth.js';
import { silentLogger } from '../lib/log.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { AuditLog } from '../core/audit/audit-log.js';
import { notFound } from '../lib/errors.js';
import { LOGIN_ROUTE } from './rate-limit-login.js';
import { identityServices } from '../core/identity/services.js';
import type { AuditPage } from '../shared/trail-types.js';

test('mutating calls and login attempts are audited; reads and secrets are not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-audit-hook-'));
  const store = new SqliteStore(join(dir, 'state.db'));
  const audit = new AuditLog(join(dir, 'audit'));
  const ctx = {
    log: silentLogger(),
    store,
    audit,
    webhooks: { delete: async () => { throw notFound('webhook 00000000-0000-0000-0000-000000000000'); }, list: async () => [] },
  } as unknown as ApiContext;
  const token = await ensureAdminToken(store, join(dir, 'admin.token'));
  const ids = identityServices(store);
  await ids.projects.ensureDefault();
  await ids.users.create({ name: 'alice', password: 'right-horse-battery' });
  const app = await buildServer(ctx, { audit });
  const auth = { authorization: `Bearer ${token}` };
  try {
    const id = '00000000-0000-0000-0000-000000000000';
    assert.equal((await app.inject({ method: 'DELETE', url: `/api/v1/webhooks/${id}`, headers: auth })).statusCode, 404);
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: auth })).statusCode, 200);
    assert.equal((await app.inject({ method: 'DELETE', url: `/api/v1/webhooks/${id}` })).statusCode, 401);
    assert.equal((await app.inject({ method: 'POST', url: LOGIN_ROUTE, payload: { name: 'mallory', password: 'guess-one-secret' } })).statusCode, 401);
    assert.equal((await app.inject({ method: 'POST', url: LOGIN_ROUTE, payload: { name: 'alice', password: 'right-horse-battery' } })).statusCode, 200);

    const res = await app.inject({ method: 'GET', url: '/api/v1/audit?limit=10', headers: auth });
    assert.equal(res.statusCode, 200);
    const { entries } = res.json() as AuditPage;
    assert.equal(entries.length, 4, 'the two GETs are not recorded');
    const [ok, failed, anon, del] = entries;
    assert.deepEqual(
      { user: del!.user, via: del!.via, tokenId: del!.tokenId !== undefined, method: del!.method, route: del!.route, params: del!.params, action: del!.action, source: del!.source, status: del!.status, error: del!.error },
      { user: 'admin', via: 'token', tokenId: true, method: 'DELETE', route: '/api/v1/webhooks/:id', params: { id }, action: 'write webhook', source: '127.0.0.1', status: 404, error: 'NotFound' },
    );
    assert.ok(Math.abs(Date.parse(del!.time) - Date.now()) < 60_000);
    assert.deepEqual({ user: anon!.user, status: anon!.status, error: anon!.error }, { user: 'anonymous', status: 401, error: 'Unauthorized' });
    assert.deepEqual({ user: failed!.user, loginName: failed!.loginName, action: failed!.action, status: failed!.status }, { user: 'anonymous', loginName: 'mallory', action: 'login', status: 401 });
    assert.deepEqual({ user: ok!.user, action: ok!.action, status: ok!.status }, { user: 'alice', action: 'login', status: 200 });

    const byUser = (await app.inject({ method: 'GET', url: '/api/v1/audit?user=anonymous', headers: auth })).json() as AuditPage;
    assert.equal(byUser.entries.length, 2);
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/audit?after=nonsense', headers: auth })).statusCode, 400);
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/audit?since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z', headers: auth })).statusCode, 400);

    const raw = readdirSync(join(dir, 'audit')).map((f) => readFileSync(join(dir, 'audit', f), 'utf8')).join('');
    assert.doesNotMatch(raw, /guess-one-secret|right-horse-battery/);
    assert.ok(!raw.includes(token.slice(-20)), 'the bearer secret is not in the log');
  } finally {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('calls without a credential are recorded up to 60 a minute per address; rate-limited answers not at all', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-audit-flood-'));
  const store = new SqliteStore(join(dir, 'state.db'));
  const got: { user: string; status: number }[] = [];
  const sink = { append: (e: { user: string; status: number }) => void got.push(e) };
  const app = await buildServer({ log: silentLogger(), store } as unknown as ApiContext, { audit: sink, rateLimits: { perAddress: { burst: 75, perSecond: 0.001 } } });
  try {
    for (let i = 0; i < 80; i++) await app.inject({ method: 'DELETE', url: '/api/v1/webhooks/00000000-0000-0000-0000-000000000000' });
    assert.equal(got.length, 60);
    assert.ok(got.every((e) => e.user === 'anonymous' && e.status === 401));
  } finally {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
