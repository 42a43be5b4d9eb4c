// WebSocket tickets and session edge cases through the real server over a real store: a ticket opens one
// WebSocket of the instance (or the events stream) it was issued for, once, within 60 s, and only while
// the session or token it was traded for holds; expired sessions, cross-site writes and foreign origins
// are refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import { buildServer } from './server.js';
import type { ApiContext } from './context.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { keys } from '../store/keys.js';
import { ensureFirstAdmin, type AdminCredentials } from '../core/identity/first-admin.js';
import { sha256 } from '../core/identity/secrets.js';
import type { SessionRecord } from '../core/identity/records.js';
import { WsTickets } from '../core/authz/ws-tickets.js';
import { silentLogger } from '../lib/log.js';

let app: FastifyInstance;
let store: SqliteStore;
let dir: string;
let base: string;
let admin: AdminCredentials;
let now = Date.now();
const tickets = new WsTickets(60_000, () => now);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nimbo-tickets-'));
  store = new SqliteStore(join(dir, 'state.db'));
  await ensureFirstAdmin(store, join(dir, 'admin.token'), join(dir, 'admin.credentials'));
  admin = JSON.parse(readFileSync(join(dir, 'admin.credentials'), 'utf8')) as AdminCredentials;
  // The WebSocket handlers need only these: no events come, and no instance exists (console closes 4404).
  const ctx = {
    log: silentLogger(),
    store,
    events: { subscribe: () => () => undefined },
    instances: { record: async () => Promise.reject(new Error('none')) },
  } as unknown as ApiContext;
  app = await buildServer(ctx, { tickets });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `127.0.0.1:${(app.server.address() as { port: number }).port}`;
});
after(async () => {
  await app.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

type Session = { cookie: string; csrf: string };
async function login(): Promise<Session> {
  const res = await fetch(`http://${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'admin', password: admin.password }) });
  assert.equal(res.status, 200);
  return { cookie: String(res.headers.get('set-cookie')).split(';')[0]!, csrf: ((await res.json()) as { csrfToken: string }).csrfToken };
}

/** POST /auth/ticket with a token or a session; the ticket. */
async function ticket(by: { token: string } | Session, body?: object, query = ''): Promise<string> {
  const headers: Record<string, string> = 'token' in by ? { authorization: `Bearer ${by.token}` } : { cookie: by.cookie, 'x-csrf-token': by.csrf };
  if (body) headers['content-type'] = 'application/json';
  const res = await fetch(`http://${base}/api/v1/auth/ticket${query}`, { method: 'POST', headers, ...(body ? { body: JSON.stringify(body) } : {}) });
  const json = (await res.json()) as { ticket: string };
  assert.equal(res.status, 201, JSON.stringify(json));
  return json.ticket;
}

/** Open a WebSocket: 101, or the refusal's status and sentence. */
function upgrade(path: string, headers: Record<string, string> = {}): Promise<{ status: number; message?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${base}/api/v1${path}`, { headers });
    ws.on('upgrade', () => {
      resolve({ status: 101 });
      ws.terminate();
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, message: (JSON.parse(body || '{}') as { error?: { message: string } }).error?.message }));
    });
    ws.on('error', (e) => (/Unexpected server response/.test(e.message) ? undefined : reject(e)));
  });
}

const same = () => ({ origin: `http://${base}` });

test("a session's ticket opens its instance's WebSocket once, with that session's cookie; refusals say why", async () => {
  const s = await login();
  const t = await ticket(s, { instance: 'web1' });
  assert.deepEqual(await upgrade(`/instances/web1/console?ticket=${t}`, { cookie: s.cookie, ...same() }), { status: 101 });
  const reused = await upgrade(`/instances/web1/console?ticket=${t}`, { cookie: s.cookie });
  assert.equal(reused.status, 401);
  assert.match(reused.message!, /unknown or was used already/);
  // No cookie, or another session's: a leaked ticket is no use alone.
  const other = await login();
  for (const cookie of [undefined, other.cookie]) {
    const r = await upgrade(`/instances/web1/console?ticket=${await ticket(s, { instance: 'web1' })}`, cookie ? { cookie } : {});
    assert.equal(r.status, 401);
    assert.match(r.message!, /must carry that same session cookie/);
  }
  // A foreign page cannot spend it with the browser's cookie either.
  const foreign = await upgrade(`/instances/web1/console?ticket=${await ticket(s, { instance: 'web1' })}`, { cookie: s.cookie, origin: 'https://evil.example' });
  assert.equal(foreign.status, 403);
  assert.match(foreign.message!, /own origin, not https:\/\/evil.example/);
  // Wrong instance, wrong project, wrong kind of WebSocket.
  const wrong = await upgrade(`/instances/db/vnc?ticket=${await ticket(s, { instance: 'web1' })}`, { cookie: s.cookie });
  assert.equal(wrong.status, 401);
  assert.match(wrong.message!, /issued for instance web1 in project default, not for instance db in project default/);
  const elsewhere = await upgrade(`/instances/web1/console?project=shop&ticket=${await ticket(s, { instance: 'web1' })}`, { cookie: s.cookie });
  assert.match(elsewhere.message!, /not for instance web1 in project shop/);
  const forEvents = await upgrade(`/events?ticket=${await ticket(s, { instance: 'web1' })}`, { cookie: s.cookie });
  assert.match(forEvents.message!, /issued for instance web1, not for the events stream/);
  const forConsole = await upgrade(`/instances/web1/exec?cmd=sh&ticket=${await ticket(s)}`, { cookie: s.cookie });
  assert.equal(forConsole.status, 401);
  assert.match(forConsole.message!, /events stream only/);
  assert.equal((await upgrade(`/events?ticket=${await ticket(s)}`, { cookie: s.cookie })).status, 101);
  // Logging out voids the session's tickets.
  const pending = await ticket(s, { instance: 'web1' });
  const out = await fetch(`http://${base}/api/v1/auth/logout`, { method: 'POST', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
  assert.equal(out.status, 204);
  const ended = await upgrade(`/instances/web1/console?ticket=${pending}`, { cookie: s.cookie });
  assert.equal(ended.status, 401);
  assert.match(ended.message!, /session the ticket was issued to has ended .*not valid/);
});

test('a ticket expires after 60 s; a token\'s ticket works without a cookie until the token is revoked', async () => {
  const tok = { token: admin.token };
  const late = await ticket(tok, { instance: 'web1' }, '?project=default');
  now += 60_000;
  const expired = await upgrade(`/instances/web1/console?ticket=${late}`);
  assert.equal(expired.status, 401);
  assert.match(expired.message!, /expired \(tickets last 60 s\)/);
  const bad = await fetch(`http://${base}/api/v1/auth/ticket`, { method: 'POST', headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ instance: 'Not A Name' }) });
  assert.equal(bad.status, 400);
  assert.equal((await upgrade(`/instances/web1/console?project=default&ticket=${await ticket(tok, { instance: 'web1' })}`)).status, 101);
  // A token made for the test, then revoked: its waiting ticket dies with it.
  const made = await fetch(`http://${base}/api/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ticket-test' }) });
  const { token, secret } = (await made.json()) as { token: { id: string }; secret: string };
  const waiting = await ticket({ token: secret });
  assert.equal((await fetch(`http://${base}/api/v1/tokens/${token.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin.token}` } })).status, 200);
  const revoked = await upgrade(`/events?ticket=${waiting}`);
  assert.equal(revoked.status, 401);
  assert.match(revoked.message!, /token the ticket was issued to no longer holds: .*revoked/);
});

test('an expired session cookie gets 401 on REST and WebSocket; a cookie write without the CSRF token 403; a foreign origin is refused', async () => {
  const s = await login();
  const csrfLess = await fetch(`http://${base}/api/v1/auth/ticket`, { method: 'POST', headers: { cookie: s.cookie } });
  assert.equal(csrfLess.status, 403);
  const wrongCsrf = await fetch(`http://${base}/api/v1/auth/ticket`, { method: 'POST', headers: { cookie: s.cookie, 'x-csrf-token': 'x'.repeat(s.csrf.length) } });
  assert.equal(wrongCsrf.status, 403);
  assert.match(((await wrongCsrf.json()) as { error: { message: string } }).error.message, /does not match this session/);
  const foreign = await upgrade('/events', { cookie: s.cookie, origin: 'https://evil.example' });
  assert.equal(foreign.status, 403);
  assert.equal((await upgrade('/events', { cookie: s.cookie, ...same() })).status, 101);
  // The session's clock ran out (idle and absolute limits alike end it here).
  const key = keys.session(sha256(s.cookie.split('=')[1]!));
  const rec = (await store.get<SessionRecord>(key))!.value;
  await store.put(key, { ...rec, createdAt: '2020-01-01T00:00:00.000Z', lastSeenAt: '2020-01-01T00:00:00.000Z' });
  const rest = await fetch(`http://${base}/api/v1/auth/whoami`, { headers: { cookie: s.cookie } });
  assert.equal(rest.status, 401);
  assert.match(((await rest.json()) as { error: { message: string } }).error.message, /session expired at/);
  const ws = await upgrade('/events', { cookie: s.cookie, ...same() });
  assert.equal(ws.status, 401);
  assert.match(ws.message!, /not valid|expired/);
});
