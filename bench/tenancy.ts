/**
 * bench/tenancy: the control plane of a VPS service at 10,000 instances in 20 projects. Two API servers run
 * side by side, each over its own real SQLite store holding the same 10,000 instance records: one checks
 * every create against its project's quota (the race-free admission transaction) and a tenant's token
 * against the project's members (authz), the other counts no quota and is called with the platform admin's
 * token (authz's shortest path). Both use the real core services and HTTP on loopback; only the host side
 * is the test fixture's (src/core/testing: no guest boots, no bridge is made), so what is timed is the API,
 * authn, authz, quota and store. Rounds alternate between the two servers; p50/p99 and ratios are printed,
 * then the 50-way quota race. Run: npm run bench:tenancy (no root needed).
 */
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../src/api/server.js';
import type { ApiContext } from '../src/api/context.js';
import { coreFixture, type CoreFixture } from '../src/core/testing/core-fixture.js';
import { ensureAdminToken } from '../src/core/auth.js';
import { identityServices } from '../src/core/identity/services.js';
import { instanceCounts } from '../src/core/plans/launch-plan.js';
import { keys } from '../src/store/keys.js';
import type { InstanceRecord } from '../src/core/instance-record.js';
import { silentLogger } from '../src/lib/log.js';
import { join } from 'node:path';

const RECORDS = Number(process.env.RECORDS ?? 10_000);
const PROJECTS = Number(process.env.PROJECTS ?? 20);
const ROUNDS = Number(process.env.ROUNDS ?? 6);
const PER_ROUND = Number(process.env.PER_ROUND ?? 40);
const project = (i: number) => `p${String(i + 1).padStart(2, '0')}`;

interface Side {
  name: string;
  t: CoreFixture;
  app: FastifyInstance;
  url: string;
  token: string;
  lists: number[];
  creates: number[];
  made: number;
}

/** A server over a fresh fixture with RECORDS records in PROJECTS projects; `checked`: quotas + a tenant's token. */
async function side(checked: boolean): Promise<Side> {
  const t = await coreFixture({ quota: checked, sliceHost: { cpus: 64, memoryMiB: 1 << 20, reserveCores: 1, reserveMiB: 1024 } });
  const admin = await ensureAdminToken(t.store, join(t.dir, 'admin.token'));
  const ids = identityServices(t.store);
  await ids.users.create({ name: 'tenant', password: 'tenant-bench-password-1' });
  for (let p = 0; p < PROJECTS; p++) {
    await ids.projects.create(project(p), '', 'admin');
    await ids.projects.addMember(project(p), 'tenant', 'member');
  }
  const tenant = (await ids.tokens.create((await ids.users.record('tenant'))!, { name: 'bench', access: 'write' })).secret;
  const app = await buildServer({
    log: silentLogger(), store: t.store, ops: t.ops, events: t.events, instances: t.instances, storage: t.storage,
    network: t.network, firewall: t.firewall, images: t.images, plans: t.plans, quotas: t.quotas,
  } as unknown as ApiContext);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/api/v1`;
  const s: Side = { name: checked ? 'quota+authz' : 'neither', t, app, url, token: checked ? tenant : admin, lists: [], creates: [], made: 0 };
  // One real create per project gives the template; the rest are written straight into the store.
  for (let p = 0; p < PROJECTS; p++) {
    const r = await call(s, 'POST', `/instances?project=${project(p)}`, { name: 'seed', image: 'tiny', type: 'container', start: false });
    await waitOp(s, r);
  }
  const template = (await t.repo.records(project(0)))[0]!;
  const per = Math.ceil(RECORDS / PROJECTS) - 1;
  for (let p = 0; p < PROJECTS; p++) {
    const ops = [];
    for (let i = 0; i < per; i++) {
      const rec: InstanceRecord = { ...template, project: project(p), name: `vm-${String(i).padStart(4, '0')}`, uuid: randomUUID(), nics: [], volumes: [] };
      ops.push({ type: 'put' as const, key: keys.instance(project(p), rec.name), value: rec });
    }
    await t.store.txn([], ops);
    if (checked) {
      // The usage counters as admission would have left them.
      const one = instanceCounts(template);
      const used = Object.fromEntries(Object.entries(one).map(([k, v]) => [k, (v ?? 0) * (per + 1)]));
      await t.store.put(keys.quotaUsage(project(p)), used);
      await t.quotas.set(project(p), { instances: 100_000, vcpus: 100_000 });
    }
  }
  return s;
}

async function call(s: Side, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(s.url + path, {
    method,
    headers: { authorization: `Bearer ${s.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

async function waitOp(s: Side, r: Response): Promise<void> {
  const body = (await r.json()) as { operation?: { id: string }; error?: { message: string } };
  if (r.status !== 202 || !body.operation) throw new Error(`${s.name}: create answered ${r.status}: ${JSON.stringify(body)}`);
  const op = await s.t.ops.wait(body.operation.id, 30_000);
  if (op.status !== 'success') throw new Error(`${s.name}: create failed: ${op.error}`);
}

async function timed<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await f();
  return [performance.now() - t0, v];
}

/** One round: PER_ROUND list pages of a project, then PER_ROUND creates (each finished before the next). */
async function round(s: Side, r: number): Promise<void> {
  for (let i = 0; i < PER_ROUND; i++) {
    const [ms, res] = await timed(async () => {
      const x = await call(s, 'GET', `/instances?project=${project(i % PROJECTS)}`);
      await x.arrayBuffer();
      return x;
    });
    if (res.status !== 200) throw new Error(`${s.name}: list answered ${res.status}`);
    s.lists.push(ms);
  }
  for (let i = 0; i < PER_ROUND; i++) {
    const [ms, res] = await timed(() => call(s, 'POST', `/instances?project=${project(((r + 1) * PER_ROUND + i) % PROJECTS)}`, { name: `new-${r + 1}-${i}`, image: 'tiny', type: 'container', start: false }));
    s.creates.push(ms);
    await waitOp(s, res);
    s.made++;
  }
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const f = (ms: number) => `${ms.toFixed(2)} ms`;

/** 50 concurrent creates against an instance quota of 10, in a fresh project of the checked server. */
async function race(s: Side): Promise<{ accepted: number; refused: number; records: number }> {
  const ids = identityServices(s.t.store);
  await ids.projects.create('race', '', 'admin');
  await ids.projects.addMember('race', 'tenant', 'member');
  await s.t.quotas.set('race', { instances: 10 });
  const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => call(s, 'POST', '/instances?project=race', { name: `r${i}`, image: 'tiny', type: 'container', start: false })));
  const accepted = replies.filter((r) => r.status === 202);
  for (const r of accepted) await waitOp(s, r);
  return { accepted: accepted.length, refused: replies.filter((r) => r.status === 403).length, records: (await s.t.repo.records('race')).length };
}

async function main() {
  const t0 = Date.now();
  const sides = [await side(true), await side(false)];
  console.log(`tenancy: ${RECORDS} instance records in ${PROJECTS} projects on each of two servers (seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s); ${ROUNDS} alternating rounds of ${PER_ROUND} lists and ${PER_ROUND} creates`);
  try {
    // A warm-up round each, not counted.
    for (const s of sides) {
      await round(s, -1);
      s.lists = [];
      s.creates = [];
    }
    for (let r = 0; r < ROUNDS; r++) for (const s of r % 2 ? [...sides].reverse() : sides) await round(s, r);
    for (const s of sides) {
      const total = (await s.t.repo.allRecords()).length;
      console.log(`tenancy: ${s.name.padEnd(11)} list p50 ${f(pct(s.lists, 50))}, p99 ${f(pct(s.lists, 99))} (target < 100 ms); create call p50 ${f(pct(s.creates, 50))}, p99 ${f(pct(s.creates, 99))} (target < 150 ms); ${total} records at the end`);
    }
    const [c, n] = sides as [Side, Side];
    console.log(`tenancy: create with quota+authz / with neither: p50 ${(pct(c.creates, 50) / pct(n.creates, 50)).toFixed(2)}, p99 ${(pct(c.creates, 99) / pct(n.creates, 99)).toFixed(2)} (target <= 1.10)`);
    console.log(`tenancy: list with a tenant's authz / as admin: p50 ${(pct(c.lists, 50) / pct(n.lists, 50)).toFixed(2)}, p99 ${(pct(c.lists, 99) / pct(n.lists, 99)).toFixed(2)}`);
    const q = await race(c);
    console.log(`tenancy: quota race: 50 concurrent creates against a quota of 10 instances: ${q.accepted} accepted, ${q.refused} refused (403 QuotaExceeded), ${q.records} records (target: exactly 10)`);
  } finally {
    for (const s of sides) {
      await s.app.close();
      await s.t.done();
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
