// Generated from the route table: every route is called as every role (admin, operator, owner, member,
// viewer of project alpha, a read-only token, a token limited to project beta), in project alpha and in
// project beta. The answer must be 403 exactly when the rules of the issue (written out again here, not
// taken from the policy) say no, and then no handler may run. A route without a declaration fails here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { buildServer } from './server.js';
import type { ApiContext } from './context.js';
import type { Principal } from '../core/identity/principal.js';
import { isProjectResource, type Access, type Resource } from '../core/authz/access.js';
import { keys } from '../store/keys.js';
import { silentLogger } from '../lib/log.js';

const A = 'alpha';
const B = 'beta';
const who = (userName: string, extra: Partial<Principal>): Principal => ({ userId: `u-${userName}`, userName, via: 'session', projects: {}, ...extra });
const PRINCIPALS = {
  admin: who('root', { platformRole: 'admin' }),
  operator: who('ops', { platformRole: 'operator' }),
  owner: who('olga', { projects: { [A]: 'owner' } }),
  member: who('mia', { projects: { [A]: 'member' } }),
  viewer: who('bob', { projects: { [A]: 'viewer' } }),
  readToken: who('olga', { via: 'token', projects: { [A]: 'owner' }, token: { id: 'tr', access: 'read' } }),
  tokenB: who('olga', { via: 'token', projects: { [A]: 'owner', [B]: 'member' }, token: { id: 'tb', access: 'write', project: B } }),
} satisfies Record<string, Principal>;
type Who = keyof typeof PRINCIPALS;

/** The rules, written out independently of core/authz/policy.ts. */
function expected(w: Who, { action, resource }: Access, project: string): boolean {
  const read = action === 'read';
  const scoped = isProjectResource(resource);
  const anyone = (r: Resource) => ((r === 'plan' || r === 'project' || r === 'backup-store') && read) || r === 'self';
  const operatorMay = (r: Resource) => ['host', 'pool', 'plan', 'backup-store'].includes(r) || (read && ['project', 'user', 'audit', 'backup-sync', 'metrics'].includes(r)) || r === 'self';
  const ownerMay = (r: Resource) => read || r !== 'quota';
  const memberMay = (r: Resource) => read || (r !== 'quota' && r !== 'member');
  switch (w) {
    case 'admin':
      return true;
    case 'operator':
      // Operations and events: the routes, showing only platform items; no other tenant data.
      return scoped ? resource === 'operation' || resource === 'event' : operatorMay(resource);
    case 'owner':
      return scoped ? project === A && ownerMay(resource) : anyone(resource);
    case 'member':
      return scoped ? project === A && memberMay(resource) : anyone(resource);
    case 'viewer':
      return scoped ? project === A && read : anyone(resource);
    case 'readToken':
      return read && (scoped ? project === A : anyone(resource));
    case 'tokenB':
      return scoped ? project === B && memberMay(resource) : read ? anyone(resource) : resource === 'self';
  }
}

interface Route {
  method: string;
  url: string;
  access?: Access;
  /** The path parameter that names the project (/projects/{name}/members), instead of ?project=. */
  projectParam?: string;
  isPublic: boolean;
  websocket: boolean;
}

let app: FastifyInstance;
let port: number;
const routes: Route[] = [];
/** Handlers that ran: "METHOD url project". */
const reached: string[] = [];

before(async () => {
  // Every service is a trap: a handler that runs throws (500) after it was recorded.
  const trap = new Proxy({}, { get: () => { throw new Error('handler reached'); } });
  // The store answers only whether a project exists (the authorization hook asks for an admin's project).
  // Any other read is a handler's: it throws like the trap.
  const store = {
    get: async (key: string) => {
      if ([keys.project(A), keys.project(B)].includes(key)) return { key, value: {} };
      throw new Error('handler reached');
    },
  };
  const ctx = new Proxy({ log: silentLogger(), store } as unknown as ApiContext, { get: (t, p) => (p === 'log' || p === 'store' ? (t as unknown as Record<string, unknown>)[p] : trap) });
  app = await buildServer(ctx, {
    authenticate: (req: FastifyRequest) => PRINCIPALS[req.headers['x-test-principal'] as Who],
    onRoute: (route) => {
      const method = String(route.method);
      const config = (route.config ?? {}) as { public?: boolean; access?: Access; projectParam?: string };
      routes.push({ method, url: route.url, ...(config.access ? { access: config.access } : {}), ...(config.projectParam ? { projectParam: config.projectParam } : {}), isPublic: config.public === true, websocket: route.websocket === true });
      const inner = route.handler;
      route.handler = function (this: FastifyInstance, ...args: Parameters<typeof inner>) {
        reached.push(`${method} ${route.url} ${(args[0] as FastifyRequest).project ?? '-'}`);
        return inner.apply(this, args);
      } as typeof inner;
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
});

after(() => app.close());

const WS = { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13' };

/** One raw HTTP/1.1 request; resolves with the status code and the body read so far. */
function call(method: string, target: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    const lines = [`${method} ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    const body = ['POST', 'PUT', 'PATCH'].includes(method) ? '{}' : '';
    if (body) lines.push('Content-Type: application/json', `Content-Length: ${body.length}`);
    sock.on('connect', () => sock.write(`${lines.join('\r\n')}\r\n\r\n${body}`));
    const done = () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      resolve({ status: m ? Number(m[1]) : 0, body: data.split('\r\n\r\n').slice(1).join('\r\n\r\n') });
    };
    sock.on('data', (d) => {
      data += d.toString('latin1');
      // An upgraded socket stays open: the status line is all there is to read.
      if (/^HTTP\/1\.1 101/.test(data)) sock.destroy();
    });
    sock.on('close', done);
    sock.on('error', reject);
    sock.setTimeout(5000, () => {
      sock.destroy();
      reject(new Error(`no answer to ${method} ${target}`));
    });
  });
}

/** A valid-looking value for each path parameter. */
const fill = (url: string) =>
  url.replace(':id', '0d4b7c1e-0000-4000-8000-000000000001').replace(':action', 'start').replace(':nic', 'eth0').replace(/:[a-zA-Z]+/g, 'x1');

test('every route of the table declares its access, or that it is public', () => {
  assert.ok(routes.length >= 70, `route table has ${routes.length} routes`);
  const undeclared = routes.filter((r) => !r.isPublic && !r.access).map((r) => `${r.method} ${r.url}`);
  assert.deepEqual(undeclared, [], 'routes without config.access (deny by default: they answer 403 to everyone)');
  // Exec and console are writes, though GET, and so is reading a backup store's (wrapped) key; the rule of thumb holds for every other route.
  const odd = routes.filter((r) => r.access && (r.access.action === 'read') !== (r.method === 'GET' || r.method === 'HEAD'));
  assert.deepEqual(odd.map((r) => `${r.method} ${r.url} ${r.access!.action}`).sort(), [
    'GET /api/v1/backup-stores/:store/key write', 'GET /api/v1/instances/:name/console write', 'GET /api/v1/instances/:name/exec write', 'GET /api/v1/instances/:name/files write', 'GET /api/v1/instances/:name/vnc write',
    'HEAD /api/v1/backup-stores/:store/key write', 'HEAD /api/v1/instances/:name/console write', 'HEAD /api/v1/instances/:name/exec write', 'HEAD /api/v1/instances/:name/files write', 'HEAD /api/v1/instances/:name/vnc write', 'POST /api/v1/auth/ticket read',
  ]);
});

test('every route as every role, in its own project and another: 403 exactly when the rules say no, and then no handler runs', async () => {
  const failures: string[] = [];
  let calls = 0;
  for (const r of routes.filter((x) => x.access)) {
    for (const w of Object.keys(PRINCIPALS) as Who[]) {
      for (const project of [A, B]) {
        const target = r.projectParam ? fill(r.url.replace(`:${r.projectParam}`, project)) : `${fill(r.url)}?project=${project}`;
        const headers = { 'x-test-principal': w, ...(r.websocket && r.method === 'GET' ? WS : {}) };
        reached.length = 0;
        const { status, body } = await call(r.method, target, headers);
        calls++;
        const want = expected(w, r.access!, project);
        const ran = reached.length > 0;
        const line = `${w} ${r.method} ${target}: want ${want ? 'allowed' : '403'}, got ${status} ${body.slice(0, 160)}${ran ? ' (handler ran)' : ''}`;
        if (!want && (status !== 403 || ran)) failures.push(line);
        if (want && (status === 403 || status === 401 || (!ran && status !== 400))) failures.push(line);
        const scopedTo = isProjectResource(r.access!.resource) ? project : '-';
        if (ran && reached[0] !== `${r.method} ${r.url} ${scopedTo}`) failures.push(`${line}: handler saw ${reached[0]}, want project ${scopedTo}`);
        if (!want && status === 403 && r.method !== 'HEAD' && !/^\{"error":\{"code":"Forbidden","message":"[^"]+"\}\}$/.test(body)) failures.push(`${line}: not one Forbidden sentence`);
      }
    }
  }
  assert.ok(calls >= 70 * 7 * 2, `${calls} calls`);
  assert.deepEqual(failures, []);
});

test('the request project: ?project=, else the token project, else the first project, else default', async () => {
  const project = async (w: Who, query = '') => {
    reached.length = 0;
    const { status } = await call('GET', `/api/v1/instances/x1${query}`, { 'x-test-principal': w });
    return `${status} ${reached[0]?.split(' ')[2] ?? 'not reached'}`;
  };
  assert.equal(await project('owner'), `500 ${A}`);
  assert.equal(await project('tokenB'), `500 ${B}`);
  assert.equal(await project('admin'), '500 default');
  assert.equal(await project('admin', `?project=${B}`), `500 ${B}`);
  assert.equal(await project('operator'), '403 not reached');
  assert.equal(await project('owner', '?project=Bad_Name'), '400 not reached');
  assert.equal(await project('owner', `?project=${A}&project=${A}`), '400 not reached');
  const nope = await call('GET', '/api/v1/instances/x1?project=nowhere', { 'x-test-principal': 'viewer' });
  const other = await call('GET', `/api/v1/instances/x1?project=${B}`, { 'x-test-principal': 'viewer' });
  assert.equal(nope.body, JSON.stringify({ error: { code: 'Forbidden', message: 'you have no access to project nowhere' } }));
  assert.equal(other.body, JSON.stringify({ error: { code: 'Forbidden', message: `you have no access to project ${B}` } }), 'the same answer whether the project exists or not');
  // A route with a strict query schema still takes ?project= (it is gone before validation).
  assert.equal(await project('owner', `/snapshots?project=${A}&limit=5`), `500 ${A}`);
  assert.equal(await project('owner', `/snapshots?project=${A}&nope=1`), '400 not reached');
  // Platform routes ignore it.
  reached.length = 0;
  assert.equal((await call('GET', `/api/v1/host?project=${B}`, { 'x-test-principal': 'operator' })).status, 500);
  assert.deepEqual(reached, ['GET /api/v1/host -']);
  assert.equal((await call('GET', '/api/v1/host', {})).status, 401, 'no principal: 401');
});

test('OpenAPI documents ?project= on project-scoped routes only', async () => {
  const doc = (await (await fetch(`http://127.0.0.1:${port}/api/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>> };
  const hasProject = (path: string, method: string) => (doc.paths[path]?.[method]?.parameters ?? []).some((p) => p.in === 'query' && p.name === 'project');
  assert.equal(hasProject('/api/v1/instances', 'get'), true);
  assert.equal(hasProject('/api/v1/instances/{name}', 'delete'), true);
  assert.equal(hasProject('/api/v1/operations/{id}', 'get'), true);
  assert.equal(hasProject('/api/v1/storage/pools', 'get'), false);
  assert.equal(hasProject('/api/v1/host', 'get'), false);
});
