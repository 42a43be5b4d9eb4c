// Operations and the events stream through the real server, OperationManager and EventBus: each principal
// sees the operations and events of the request's project that its role may read, platform-level ones only
// as an admin or operator, and another project's by id is 404 like one that does not exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { FastifyRequest } from 'fastify';
import { buildServer } from './server.js';
import type { ApiContext } from './context.js';
import type { Principal } from '../core/identity/principal.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { EventBus } from '../core/events.js';
import { OperationManager } from '../core/operations.js';
import { keys } from '../store/keys.js';
import { silentLogger } from '../lib/log.js';
import type { Event, Operation } from '../shared/api-types.js';

const who = (userName: string, extra: Partial<Principal>): Principal => ({ userId: `u-${userName}`, userName, via: 'session', projects: {}, ...extra });
const PRINCIPALS: Record<string, Principal> = {
  admin: who('root', { platformRole: 'admin' }),
  operator: who('ops', { platformRole: 'operator' }),
  alice: who('alice', { projects: { a: 'viewer' } }),
  bob: who('bob', { projects: { b: 'owner' } }),
  both: who('carl', { projects: { a: 'member', b: 'member' } }),
};
const id = (n: number) => `0d4b7c1e-0000-4000-8000-00000000000${n}`;
const op = (n: number, project?: string): Operation => ({
  id: id(n), kind: 'test', target: `t${n}`, ...(project ? { project } : {}), status: 'success', progress: 100, log: [],
  createdAt: `2026-12-0${n}T00:00:00.000Z`, updatedAt: `2026-12-0${n}T00:00:00.000Z`,
});

test('operations and events: own project only, platform ones to admins and operators, others 404', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-items-'));
  const store = new SqliteStore(join(dir, 'state.db'));
  const events = new EventBus();
  const log = silentLogger();
  const ctx = { log, store, events, ops: new OperationManager(store, events, log) } as unknown as ApiContext;
  const app = await buildServer(ctx, { authenticate: (req: FastifyRequest) => PRINCIPALS[req.headers['x-who'] as string] });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `127.0.0.1:${(app.server.address() as { port: number }).port}/api/v1`;
  try {
    // 1: project a, 2: project b, 3: platform (a pool), 4: project a.
    for (const p of ['a', 'b']) await store.put(keys.project(p), { name: p, description: '', createdAt: new Date().toISOString() });
    for (const o of [op(1, 'a'), op(2, 'b'), op(3), op(4, 'a')]) await store.put(keys.operation(o.id), o);
    const list = async (w: string, q = '') => {
      const res = await fetch(`http://${base}/operations${q}`, { headers: { 'x-who': w } });
      return res.status === 200 ? ((await res.json()) as { operations: Operation[] }).operations.map((o) => o.target).join(',') : `${res.status}`;
    };
    assert.equal(await list('admin'), 't3', 'admin in default: platform ones only');
    assert.equal(await list('admin', '?project=a'), 't4,t3,t1');
    assert.equal(await list('operator'), 't3');
    assert.equal(await list('operator', '?project=a'), 't3', 'an operator never sees a project\'s operations');
    assert.equal(await list('alice'), 't4,t1');
    assert.equal(await list('alice', '?project=b'), '403');
    assert.equal(await list('bob'), 't2');
    assert.equal(await list('both', '?project=b'), 't2');
    assert.equal(await list('alice', '?limit=1'), 't4', 'paging counts visible ones only');

    const get = async (w: string, n: number, path = '', method = 'GET', q = '') =>
      (await fetch(`http://${base}/operations/${id(n)}${path}${q}`, { method, headers: { 'x-who': w } })).status;
    assert.equal(await get('alice', 1), 200);
    assert.equal(await get('alice', 2), 404, "another project's operation is as missing as one that does not exist");
    assert.equal(await get('alice', 3), 404);
    assert.equal(await get('alice', 2, '/wait', 'GET', '?timeout=0'), 404);
    assert.equal(await get('bob', 2, '/wait', 'GET', '?timeout=0'), 200);
    assert.equal(await get('bob', 2, '', 'DELETE'), 200, 'an ended operation: cancel answers it');
    assert.equal(await get('bob', 3, '', 'DELETE'), 404);
    assert.equal(await get('operator', 3, '', 'DELETE'), 200);
    assert.equal(await get('operator', 1, '', 'DELETE', '?project=a'), 404);
    assert.equal(await get('alice', 1, '', 'DELETE'), 403, 'a viewer may not cancel');
    // By id, an operation counts in its own project: carl's request runs in a (his first), the operation is b's.
    assert.equal(await get('both', 2), 200);
    assert.equal(await get('both', 3), 404);

    // The events stream: each socket sees only what its principal may read in its project.
    const listen = async (w: string, q = '') => {
      const ws = new WebSocket(`ws://${base}/events${q}`, { headers: { 'x-who': w } });
      const got: string[] = [];
      ws.on('message', (m: Buffer) => got.push((JSON.parse(m.toString()) as Event).target));
      await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
      return { ws, got };
    };
    const socks = { admin: await listen('admin'), adminA: await listen('admin', '?project=a'), operator: await listen('operator'), alice: await listen('alice'), bob: await listen('bob') };
    const emit = (target: string, project?: string) => (events as unknown as { em: { emit(e: string, ev: Event): void } }).em.emit('event', { type: 'test', time: '', target, data: null, ...(project ? { project } : {}) });
    emit('ea', 'a');
    emit('eb', 'b');
    emit('pool');
    emit('end', 'a');
    emit('end', 'b');
    emit('end');
    await new Promise((r) => setTimeout(r, 200));
    const seen = Object.fromEntries(Object.entries(socks).map(([k, s]) => [k, s.got.join(',')]));
    assert.deepEqual(seen, { admin: 'pool,end', adminA: 'ea,pool,end,end', operator: 'pool,end', alice: 'ea,end', bob: 'eb,end' });
    for (const s of Object.values(socks)) s.ws.close();
  } finally {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
