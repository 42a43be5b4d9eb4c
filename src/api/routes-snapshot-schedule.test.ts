// GET/PUT /instances/{name}/snapshot-schedule through the real server and auth, with a fake instance service.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildServer } from './server.js';
import type { ApiContext } from './context.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { ensureAdminToken } from '../core/auth.js';
import { silentLogger } from '../lib/log.js';
import { notFound } from '../lib/errors.js';
import type { InstanceRecord } from '../core/instance-record.js';

let app: FastifyInstance;
let store: SqliteStore;
let dir: string;
let token: string;
const recs = new Map<string, Partial<InstanceRecord>>([['vm1', { name: 'vm1', type: 'vm', state: 'running' }]]);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nimbo-sched-'));
  store = new SqliteStore(join(dir, 'state.db'));
  token = await ensureAdminToken(store, join(dir, 'admin.token'));
  const instances = {
    record: async (_p: string, n: string) => recs.get(n) ?? Promise.reject(notFound(`instance ${n}`)),
    patch: async (_p: string, n: string, change: Partial<InstanceRecord>) => Object.assign(recs.get(n)!, change),
    capabilities: () => ({ statefulSnapshots: true }),
  };
  app = await buildServer({ log: silentLogger(), store, instances, snapshots: {} } as unknown as ApiContext);
});
after(async () => {
  await app.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = (method: 'GET' | 'PUT', url: string, payload?: unknown) => app.inject({ method, url: `/api/v1${url}`, payload: payload as object, headers: { authorization: `Bearer ${token}` } });

test('GET answers 404 until a schedule is set, then the stored values and the next run', async () => {
  const none = await call('GET', '/instances/vm1/snapshot-schedule');
  assert.equal(none.statusCode, 404);
  assert.match(none.json().error.message, /snapshot schedule of vm1 not found/);
  const put = await call('PUT', '/instances/vm1/snapshot-schedule', { cron: '30 2 * * mon-fri', expiry: '7d', stateful: true });
  assert.equal(put.statusCode, 200, put.body);
  assert.equal(put.json().cron, '30 2 * * mon-fri');
  const got = await call('GET', '/instances/vm1/snapshot-schedule');
  assert.equal(got.statusCode, 200, got.body);
  const s = got.json();
  assert.equal(s.cron, '30 2 * * mon-fri');
  assert.equal(s.expiry, '7d');
  assert.equal(s.stateful, true);
  const next = new Date(s.nextRun);
  assert.ok(next > new Date(), 'next run is in the future');
  assert.equal(next.getUTCHours() * 60 + next.getUTCMinutes(), 150);
  assert.ok(next.getUTCDay() >= 1 && next.getUTCDay() <= 5, 'a weekday');
  assert.equal((await call('GET', '/instances/ghost/snapshot-schedule')).statusCode, 404);
});

test('PUT with a bad cron name is a 400 and changes nothing', async () => {
  const before = JSON.stringify(recs.get('vm1')!.snapshotSchedule);
  const r = await call('PUT', '/instances/vm1/snapshot-schedule', { cron: '0 0 * * FUNDAY' });
  assert.equal(r.statusCode, 400);
  assert.match(r.json().error.message, /"FUNDAY" is not one of SUN MON/);
  assert.equal(JSON.stringify(recs.get('vm1')!.snapshotSchedule), before);
});
