// Generated from the route table: every route, and paths no route matches, are called with many
// spellings of their path and no credential. Every one must be refused, and no handler may run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildServer } from './server.js';
import type { ApiContext } from './context.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { ensureAdminToken } from '../core/auth.js';
import { silentLogger } from '../lib/log.js';

let app: FastifyInstance;
let store: SqliteStore;
let dir: string;
let port: number;
let token: string;
const reached: string[] = [];
const routes: { method: string; url: string; isPublic: boolean }[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nimbo-authn-'));
  store = new SqliteStore(join(dir, 'state.db'));
  token = await ensureAdminToken(store, join(dir, 'admin.token'));
  // Every service is a trap: a handler that runs touches one and is recorded too.
  const trap = new Proxy({}, { get: (_t, p) => { reached.push(`ctx.${String(p)}`); throw new Error('handler reached'); } });
  const ctx = new Proxy({ log: silentLogger(), store } as unknown as ApiContext, {
    get: (t, p) => (p === 'log' || p === 'store' ? (t as unknown as Record<string, unknown>)[p as string] : trap),
  });
  app = await buildServer(ctx, {
    onRoute: (route) => {
      const method = String(route.method);
      routes.push({ method, url: route.url, isPublic: (route.config as { public?: boolean } | undefined)?.public === true });
      const inner = route.handler;
      route.handler = function (this: FastifyInstance, ...args: Parameters<typeof inner>) {
        reached.push(`${method} ${route.url}`);
        return inner.apply(this, args);
      } as typeof inner;
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
});

after(async () => {
  await app.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Send one raw HTTP/1.1 request (the target exactly as given) and return the status code. */
function rawRequest(method: string, target: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    const lines = [`${method} ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    const body = method === 'POST' || method === 'PUT' || method === 'PATCH' ? '{}' : '';
    if (body) lines.push('Content-Type: application/json', `Content-Length: ${body.length}`);
    sock.on('connect', () => sock.write(`${lines.join('\r\n')}\r\n\r\n${body}`));
    sock.on('data', (d) => {
      data += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (m) {
        sock.destroy();
        resolve(Number(m[1]));
      }
    });
    sock.on('error', reject);
    sock.on('close', () => (/^HTTP\/1\.1 (\d{3})/.test(data) ? undefined : resolve(0)));
    sock.setTimeout(5000, () => {
      sock.destroy();
      reject(new Error(`no answer to ${method} ${target}`));
    });
  });
}

const WS = { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13' };

test('every route of the table needs a credential except those that declare public, however the path is spelled', async () => {
  assert.ok(routes.length >= 60, `route table has ${routes.length} routes`);
  const publicOnes = routes.filter((r) => r.isPublic).map((r) => `${r.method} ${r.url}`);
  assert.deepEqual(publicOnes.sort(), [
    'GET /', 'GET /api/docs', 'GET /api/docs/redoc.standalone.js', 'GET /api/v1/health', 'GET /api/v1/openapi.json', 'GET /assets/:file',
    'HEAD /', 'HEAD /api/docs', 'HEAD /api/docs/redoc.standalone.js', 'HEAD /api/v1/health', 'HEAD /api/v1/openapi.json', 'HEAD /assets/:file', 'POST /api/v1/auth/login',
  ]);
  const failures: string[] = [];
  for (const r of routes.filter((x) => !x.isPublic)) {
    for (const target of spellings(r.url, port)) {
      for (const headers of (r.method === 'GET' ? [{}, WS, { ...WS, Authorization: 'Bearer nope' }] : [{}, { Authorization: 'Bearer nope' }]) as Record<string, string>[]) {
        const status = await rawRequest(r.method, target, headers);
        if (status !== 401 && status !== 400) failures.push(`${r.method} ${target} ${Object.keys(headers).join(',')} -> ${status}`);
      }
    }
  }
  assert.deepEqual(failures, []);
  assert.equal(reached.join(', '), '', 'no handler ran');
});

test('paths no route matches are refused without a credential, in every spelling', async () => {
  const failures: string[] = [];
  for (const path of UNMATCHED) {
    for (const target of spellings(path, port)) {
      for (const method of ['GET', 'POST', 'DELETE']) {
        const status = await rawRequest(method, target, method === 'GET' ? WS : {});
        if (status !== 401 && status !== 400) failures.push(`${method} ${target} -> ${status}`);
      }
    }
  }
  assert.deepEqual(failures, []);
  assert.equal(reached.join(', '), '');
});

test('a valid token passes in the header, never in the query; a WebSocket upgrade may carry a single-use ticket', async () => {
  reached.length = 0;
  // GET /api/v1/host with a valid header reaches its handler (which hits the trap: 500 here).
  assert.equal(await rawRequest('GET', '/api/v1/host', { Authorization: `Bearer ${token}` }), 500);
  assert.deepEqual(reached.slice(0, 1), ['GET /api/v1/host']);
  reached.length = 0;
  assert.equal(await rawRequest('GET', `/api/v1/host?token=${token}`), 401);
  assert.equal(await rawRequest('GET', `/api/v1/events?token=${token}`, WS), 401, 'not even on a WebSocket upgrade');
  assert.equal(await rawRequest('GET', `/api/v1/host?token=${token}`, { Authorization: `Bearer ${token}` }), 401, 'a token in the URL is refused even next to the header');
  assert.equal(reached.join(', '), '');
  const ticket = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/auth/ticket`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 201);
    return ((await res.json()) as { ticket: string }).ticket;
  };
  // A ticket opens one WebSocket, once; it is no credential for plain requests or non-WebSocket routes.
  const t1 = await ticket();
  reached.length = 0;
  assert.equal(await rawRequest('GET', `/api/v1/host?ticket=${t1}`), 401);
  assert.equal(await rawRequest('GET', `/api/v1/host?ticket=${t1}`, WS), 401);
  assert.equal(await rawRequest('GET', `/api/v1/events?ticket=${t1}&ticket=${t1}`, WS), 400);
  assert.equal(reached.join(', '), '');
  assert.equal(await rawRequest('GET', `/api/v1/events?ticket=${t1}`, WS), 101);
  assert.ok(reached.includes('GET /api/v1/events'));
  reached.length = 0;
  assert.equal(await rawRequest('GET', `/api/v1/events?ticket=${t1}`, WS), 401, 'used once already');
  assert.equal(await rawRequest('GET', '/api/v1/events?ticket=nwt_made-up', WS), 401);
  assert.equal(await rawRequest('POST', '/api/v1/auth/ticket'), 401, 'getting a ticket needs a credential');
  assert.equal(reached.join(', '), '');
  // Unmatched routes with a credential answer 404 in nimbo's error format.
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/nowhere`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 404);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'NotFound');
});

test('the public routes answer without a credential', async () => {
  assert.equal(await rawRequest('GET', '/api/v1/health'), 200);
  const doc = (await (await fetch(`http://127.0.0.1:${port}/api/v1/openapi.json`)).json()) as { openapi: string };
  assert.equal(doc.openapi, '3.0.3');
  const page = await fetch(`http://127.0.0.1:${port}/api/docs`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<redoc spec-url="\/api\/v1\/openapi.json">/);
  const js = await fetch(`http://127.0.0.1:${port}/api/docs/redoc.standalone.js`);
  assert.equal(js.status, 200);
  assert.ok((await js.arrayBuffer()).byteLength > 100_000);
});

/** Paths that no route matches. */
// / is the web panel's public page (api/web-panel.ts); /assets/x/y and /index.html are not routes.
const UNMATCHED = ['/assets/x/y', '/index.html', '/api', '/api/', '/api/v1', '/api/v1/', '/api/v2/host', '/api/v1/hosts', '/api/v1/health/x', '/static/app.js', '/openapi.json'];

const enc = (c: string) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

/** Many spellings of one path (params filled in): encodings, dot segments, doubled slashes, absolute form, matrix params, case. */
function spellings(pattern: string, p: number): string[] {
  const path = pattern.replace(/:[a-zA-Z]+/g, 'x1').replace(/\*/g, 'a');
  const segs = path.split('/');
  const out = new Set<string>([
    path,
    path.replace(/[a-z]/, (c) => enc(c)), // first letter percent-encoded (the audit's /%61pi/v1/host)
    path.replace(/[a-z]/g, (c) => enc(c)), // every letter
    path.replace(/[a-z]/g, (c) => enc(c).toUpperCase()), // upper-case hex digits
    path.split('/').map((x, i) => (i > 1 ? x : x)).join('%2F'), // encoded slashes
    path.split('/').join('%2f'),
    `/${segs.slice(1).join('/')}`.replace('/v1/', '/v1/./'), // dot segments
    path.replace('/v1/', '/v1/x/../'),
    path.replace('/api/', '/api/%2e%2e/api/'),
    path.replace('/api/', '/api/%2E/'),
    `${path}/.`,
    `/.${path}`,
    `/..${path}`,
    `/${path}`, // doubled slashes
    path.replace('/v1/', '/v1//'),
    `${path}/`,
    `${path}//`,
    `http://127.0.0.1:${p}${path}`, // absolute form
    `HTTP://localhost${path}`,
    path.replace('/v1', '/v1;x=1'), // matrix parameters
    `${path};jsessionid=1`,
    path.replace('/api', '/api;'),
    path.toUpperCase(), // case
    path.replace('/api', '/API'),
    path.replace('/v1', '/V1'),
    path.replace('/', '\\'), // backslash
    path.replace('/api/', '/api\\'),
    `${path}%00`,
    `${path}%20`,
    `${path}#frag`,
    `${path}?`,
    `${path}?x=1&token=`,
  ]);
  return [...out].filter((t) => t.length > 0);
}
