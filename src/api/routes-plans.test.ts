// Plans and quotas through the real server, auth and core services (SqliteStore), host side faked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { buildServer } from './server.js';
import type { ApiContext } from './context.js';
import { ensureAdminToken } from '../core/auth.js';
import { silentLogger } from '../lib/log.js';
import { coreFixture } from '../core/testing/core-fixture.js';

/** The project these tests work in. */
const P = 'default';

async function serve() {
  const t = await coreFixture();
  const token = await ensureAdminToken(t.store, join(t.dir, 'admin.token'));
  const app = await buildServer({ log: silentLogger(), store: t.store, ops: t.ops, instances: t.instances, storage: t.storage, plans: t.plans, quotas: t.quotas } as unknown as ApiContext);
  const call = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
    app.inject({ method, url: `/api/v1${url}`, ...(payload !== undefined ? { payload: payload as object } : {}), headers: { authorization: `Bearer ${token}` } });
  return { t, app, call, done: async () => (await app.close(), await t.done()) };
}

test('HTTP quota race: 50 concurrent POST /instances against a quota of 10: ten 202s, forty 403 QuotaExceeded', async () => {
  const s = await serve();
  try {
    assert.equal((await s.call('PUT', '/quota', { instances: 10 })).statusCode, 200);
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => s.call('POST', '/instances', { name: `h${i}`, image: 'tiny', type: 'container', start: false })));
    const accepted = replies.filter((r) => r.statusCode === 202);
    const refused = replies.filter((r) => r.statusCode === 403);
    assert.equal(accepted.length, 10, replies.map((r) => `${r.statusCode} ${r.body}`).join('\n'));
    assert.equal(refused.length, 40);
    for (const r of refused) assert.deepEqual(r.json().error.code, 'QuotaExceeded');
    assert.match(refused[0]!.json().error.message, /^project default is over its quota of 10 instances: 10 in use and 1 more asked$/);
    for (const r of accepted) assert.equal((await s.t.ops.wait(r.json().operation.id, 10_000)).status, 'success');
    const q = (await s.call('GET', '/quota')).json();
    assert.deepEqual([q.limits.instances, q.usage.instances, q.limits.vcpus], [10, 10, null]);
    assert.equal((await s.t.repo.records(P)).length, 10);
  } finally {
    await s.done();
  }
});

test('plans over HTTP: list, show, create, patch, delete (409 in use, 404 unknown), launch with a plan (400 on a conflicting size)', async () => {
  const s = await serve();
  try {
    assert.deepEqual((await s.call('GET', '/plans')).json().plans.map((p: { name: string }) => p.name), ['d-1', 'd-2', 's-1', 's-2']);
    const made = await s.call('POST', '/plans', { name: 'tiny-1', vcpus: 1, memoryMiB: 128, diskGiB: 1, pricePerHour: '0.001', network: { inMbit: 10, outMbit: 5 } });
    assert.equal(made.statusCode, 201, made.body);
    assert.equal(made.json().pricePerHour, '0.001');
    assert.equal((await s.call('POST', '/plans', { name: 'bad', vcpus: 1, memoryMiB: 128, diskGiB: 1, pricePerHour: 0.1 + 0.2 })).statusCode, 400, 'a binary float price (0.30000000000000004) is refused');
    assert.equal((await s.call('POST', '/plans', { name: 'bad', vcpus: 1, memoryMiB: 128, diskGiB: 1, pricePerHour: '0.5.1' })).statusCode, 400);
    assert.equal((await s.call('PATCH', '/plans/tiny-1', { description: 'smallest' })).json().description, 'smallest');
    const bad = await s.call('POST', '/instances', { name: 'w', image: 'tiny', plan: 'tiny-1', cpus: 2 });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().error.message, /cpus 2 disagrees with plan tiny-1 \(1 vCPUs\)/);
    const ok = await s.call('POST', '/instances', { name: 'w', image: 'tiny', plan: 'tiny-1' });
    assert.equal(ok.statusCode, 202, ok.body);
    assert.equal((await s.t.ops.wait(ok.json().operation.id, 10_000)).status, 'success');
    const inst = (await s.call('GET', '/instances/w')).json();
    assert.deepEqual([inst.plan, inst.cpus, inst.memory, inst.nics[0].ingressBps, inst.nics[0].egressBps], ['tiny-1', 1, 128 * 1024 ** 2, 10e6, 5e6]);
    const inUse = await s.call('DELETE', '/plans/tiny-1');
    assert.equal(inUse.statusCode, 409);
    assert.match(inUse.json().error.message, /plan tiny-1 is used by 1 instance\(s\) \(w\): delete them first/);
    assert.equal((await s.call('GET', '/plans/nope')).statusCode, 404);
    assert.equal((await s.call('DELETE', '/plans/s-2')).statusCode, 204);
    assert.equal((await s.call('GET', '/plans/s-2')).statusCode, 404);
  } finally {
    await s.done();
  }
});
