// Generated from the server's own openapi.json: every field of every route (path and query parameters, body
// properties, nested ones, the body itself) gets hostile values, one at a time, through the real server, auth and
// core services over a SqliteStore (the host side is the core fixture's fakes). Expected: no 5xx at all; every
// value that is invalid by the route's contract refused with a 4xx; and nothing created or changed in the store.
// NIMBO_FUZZ_SEED picks another seed for the random strings (the default run is deterministic).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { buildServer } from './server.js';
import type { ApiContext } from './context.js';
import { rmSync } from 'node:fs';
import { makeBackups } from '../daemon/backup-wiring.js';
import { makeMetrics } from '../daemon/metrics-wiring.js';
import { LoginThrottle } from './rate-limit-login.js';
import { AuditLog } from '../core/audit/audit-log.js';
import { WebhookService } from '../core/webhooks/webhook-service.js';
import { UsageService } from '../core/metering/usage-service.js';
import { ensureAdminToken } from '../core/auth.js';
import { silentLogger } from '../lib/log.js';
import { PrivateImages } from '../core/private-images.js';
import { updateOf, vpsOf } from '../core/testing/vps-fixture.js';
import { InstanceMedia } from '../core/instance-media.js';
import { InstanceExec } from '../core/instance-exec.js';
import { coreFixture } from '../core/testing/core-fixture.js';
import { prng } from '../lib/prng.js';
import { UrlImports } from '../core/image-url-import.js';
import { ImageServer } from '../core/image-server.js';
import { ImageRemotes } from '../core/image-remotes.js';
import { RemoteImageCache } from '../core/image-remote-cache.js';
import { fieldPaths, hostileValues, routesOf, sample, withValueAt, type FuzzRequest, type FuzzRoute } from './testing/openapi-fuzz.js';

/** The image fetch services of a core fixture (the image server off, as by default). */
function imageFetchOf(t: Awaited<ReturnType<typeof coreFixture>>) {
  const imageRemotes = new ImageRemotes(t.runtime.d);
  return { urlImports: new UrlImports(t.runtime.d, t.images), imageServer: new ImageServer(t.images, false), imageRemotes, remoteImages: new RemoteImageCache(t.runtime.d, t.images, imageRemotes) };
}

const SEED = Number(process.env.NIMBO_FUZZ_SEED ?? 20261205);
const ABSENT_ID = '00000000-0000-4000-8000-00000000f022';

/** Bookkeeping that a refused request may legitimately write (audit trail, token use, counters), not resources. */
const BOOKKEEPING = /^\/(operations|events|audit|tokens|sessions|usage|metering|rate-limits?|webhook-deliveries|deliveries)\//;

/** Existing objects a route's path parameters name, so handlers get past their first lookup. */
function pathValue(route: FuzzRoute, name: string, schema: import('./testing/openapi-fuzz.js').Schema, doc: unknown): string {
  const p = route.path;
  if (name === 'name') return p.startsWith('/api/v1/instances') ? 'fz1' : p.startsWith('/api/v1/networks') ? 'default' : p.startsWith('/api/v1/security-groups') ? 'fz-sg' : 'fz-missing';
  const known: Record<string, string> = { pool: 'default', volume: 'fz-vol', snapshot: 'fz-snap', nic: 'eth0', id: ABSENT_ID };
  return known[name] ?? String(sample(doc, schema) ?? 'fz-missing');
}

/** Percent-encode a path segment; text that is not well-formed UTF-16 (a lone surrogate) goes as its UTF-8 bytes. */
function segment(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return [...Buffer.from(text, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  }
}

/** Every hostile request for one route. */
function requestsFor(doc: unknown, route: FuzzRoute, rand: () => number): FuzzRequest[] {
  const out: FuzzRequest[] = [];
  const pathOf = (over: Record<string, string> = {}) =>
    route.path.replace(/\{([^}]+)\}/g, (_m, n: string) => segment(over[n] ?? pathValue(route, n, route.params.find((x) => x.name === n)?.schema ?? {}, doc)));
  const baseQuery = () => new URLSearchParams(route.params.filter((p) => p.in === 'query' && p.required).map((p) => [p.name, String(sample(doc, p.schema))]));
  const isJson = route.body?.type === 'application/json';
  const baseBody = isJson ? JSON.stringify(sample(doc, route.body!.schema) ?? {}) : route.body ? 'fz' : undefined;
  const req = (url: string, what: string, content: boolean, payload = baseBody): FuzzRequest => ({
    method: route.method, url, what: `${route.method} ${route.path} ${what}`, content,
    ...(payload !== undefined ? { payload, contentType: isJson ? 'application/json' : route.body!.type } : {}),
  });
  const asText = (json: string): string => {
    const v = JSON.parse(json.length > 100_000 && json.startsWith('[[') ? '[]' : json) as unknown;
    return typeof v === 'string' ? v : json;
  };
  for (const p of route.params) {
    // Parameters are text: `true` or `12345` written in a URL may be a perfectly good name, so only text the schema refuses must be refused.
    const fits = (text: string) => p.schema.type === 'string' && (!p.schema.pattern || new RegExp(p.schema.pattern, 'u').test(text)) && text.length >= (p.schema.minLength ?? 0) && text.length <= (p.schema.maxLength ?? Infinity) && (!p.schema.enum || p.schema.enum.includes(text));
    for (const h0 of hostileValues(doc, p.schema, rand)) {
      const text = asText(h0.json);
      const h = { ...h0, content: h0.content || fits(text) };
      if (p.in === 'path') {
        if (text === '') continue; // an empty segment is another route (or none), not this parameter
        out.push(req(pathOf({ [p.name]: text }), `path ${p.name}=${h.label}`, h.content ?? false));
      } else {
        const q = baseQuery();
        q.set(p.name, text);
        out.push(req(`${pathOf()}?${q}`, `query ${p.name}=${h.label}`, h.content ?? false));
        if (h.label === 'array') {
          q.append(p.name, 'fz');
          out.push(req(`${pathOf()}?${q}`, `query ${p.name} twice`, false));
        }
      }
    }
  }
  const q = baseQuery().toString();
  const url = `${pathOf()}${q ? `?${q}` : ''}`;
  if (isJson) {
    const schema = route.body!.schema;
    const base = sample(doc, schema) ?? {};
    for (const h of hostileValues(doc, schema, rand)) out.push(req(url, `body=${h.label}`, h.content ?? false, h.json));
    out.push(req(url, 'body=truncated JSON', false, '{"name":'), req(url, 'body=not JSON', false, 'fz'));
    for (const f of fieldPaths(doc, schema)) {
      for (const h of hostileValues(doc, f.schema, rand)) out.push(req(url, `body.${f.path.join('.')}=${h.label}`, h.content ?? false, withValueAt(doc, schema, base, f.path, h.json)));
    }
  } else if (route.body) {
    out.push(req(url, 'body=empty', true, ''), req(url, 'body=JSON text', true, '{"__proto__":{"polluted":true}}'));
  }
  return out;
}

test('fuzz: hostile values in every field of every route of openapi.json get no 5xx, are refused, and create nothing', { timeout: 300_000 }, async () => {
  const t = await coreFixture();
  const missing = new Set<string>();
  const config = { stateDir: t.dir, host: '127.0.0.1', port: 0, prefix: 'nt', subnet: '10.77.0.0/24', qemuUser: 'nobody' };
  const members: Record<string, unknown> = {
    config, paths: t.paths, store: t.store, ops: t.ops, events: t.events, log: silentLogger(), exec: t.exec,
    images: t.images, instances: t.instances, actions: t.actions, network: t.network, firewall: t.firewall, forwards: t.forwards,
    instanceNics: t.nics, copier: t.copier, instanceExec: new InstanceExec(t.runtime), storage: t.storage, instanceVolumes: t.volumes, media: new InstanceMedia(t.runtime, t.repo, t.views),
    snapshots: t.snapshots, plans: t.plans, quotas: t.quotas, vpsActions: vpsOf(t), instanceUpdate: updateOf(t), privateImages: new PrivateImages(t.runtime.d, t.images, t.repo, t.runtime, (ref) => t.instances.usersOf(ref)), loginThrottle: new LoginThrottle({ freeFailures: 1e9 }),
    audit: new AuditLog(join(t.dir, 'audit')), webhooks: new WebhookService(t.store, t.events, silentLogger(), {}, async () => ({ ok: false, error: 'the fuzz sends nothing' })),
    usage: new UsageService(t.store), hostInfo: async () => ({ version: 'fuzz' }),
    backups: makeBackups({ base: t.runtime.d, runtime: t.runtime, repo: t.repo, provisioner: t.provisioner, views: t.views, nics: t.nics, actions: t.actions }).api,
    metrics: makeMetrics({ stateDir: t.dir, repo: t.repo, runtime: t.runtime, storage: t.storage, ops: t.ops, log: silentLogger() }).service,
    ...imageFetchOf(t),
  };
  // A context member the fixture lacks is reported by name (a new service must be added here), not as a mystery 500.
  const ctx = new Proxy(members, {
    get: (m, p) => (typeof p === 'string' && !(p in m) && p !== 'then' ? (missing.add(p), undefined) : m[p as string]),
  }) as unknown as ApiContext;
  const token = await ensureAdminToken(t.store, join(t.dir, 'admin.token'));
  const app = await buildServer(ctx);
  const auth = { authorization: `Bearer ${token}` };
  const call = (method: string, url: string, payload?: unknown) => app.inject({ method: method as 'GET', url, headers: auth, ...(payload !== undefined ? { payload: payload as object } : {}) });
  try {
    // Objects for path parameters to name: a stopped container with a snapshot, a volume with a snapshot, a group.
    const seed: [string, string, unknown][] = [
      ['POST', '/api/v1/security-groups', { name: 'fz-sg' }],
      ['POST', '/api/v1/storage/pools/default/volumes', { name: 'fz-vol', size: '1MiB' }],
      ['POST', '/api/v1/storage/pools/default/volumes/fz-vol/snapshots', { name: 'fz-snap' }],
      ['POST', '/api/v1/instances', { name: 'fz1', image: 'tiny', type: 'container', start: false }],
      ['POST', '/api/v1/instances/fz1/snapshots', { name: 'fz-snap' }],
    ];
    for (const [m, u, b] of seed) {
      const r = await call(m, u, b);
      assert.ok(r.statusCode < 300, `${m} ${u}: ${r.statusCode} ${r.body}`);
      if (r.statusCode === 202) assert.equal((await t.wait(r.json().operation)).status, 'success', `${m} ${u}`);
    }
    const doc = (await call('GET', '/api/v1/openapi.json')).json();
    const before = await resources(t.store);
    const rand = prng(SEED);
    const routes = routesOf(doc).filter((r) => r.path !== '/api/v1/openapi.json');
    assert.ok(routes.length >= 60, `${routes.length} routes in openapi.json`);
    const serverErrors: string[] = [];
    const accepted: string[] = [];
    let sent = 0;
    const t0 = Date.now();
    const all = routes.flatMap((route) => requestsFor(doc, route, rand));
    const send = async (r: FuzzRequest) => {
      const res = await app.inject({ method: r.method as 'GET', url: r.url, headers: { ...auth, ...(r.contentType ? { 'content-type': r.contentType } : {}) }, ...(r.payload !== undefined ? { payload: r.payload } : {}) });
      sent++;
      if (res.statusCode >= 500) serverErrors.push(`${r.what} -> ${res.statusCode} ${res.body.slice(0, 200)}`);
      else if (!r.content && r.method !== 'GET' && res.statusCode < 400) accepted.push(`${r.what} -> ${res.statusCode}`);
    };
    // First every value the route's contract refuses: none may be accepted, and the store must not change.
    for (const r of all.filter((x) => !x.content)) await send(r);
    await t.ops.drain();
    const after = await resources(t.store);
    const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
    // Then the values that may be legitimate (free text, a name that happens to be "constructor"): no 5xx.
    for (const r of all.filter((x) => x.content)) await send(r);
    await t.ops.drain();
    const ms = Date.now() - t0;
    process.stdout.write(`# fuzz: ${sent} requests (${all.filter((x) => !x.content).length} refused by contract) to ${routes.length} routes in ${ms} ms (seed ${SEED})\n`);
    // One assertion, so a run shows every kind of failure at once.
    assert.deepEqual({ missingContextMembers: [...missing], serverErrors, accepted, changedKeys: changed }, { missingContextMembers: [], serverErrors: [], accepted: [], changedKeys: [] });
    assert.ok(sent > 3000, `only ${sent} requests`);
  } finally {
    await app.close();
    // The legitimate-looking phase may make a backup store at the sample path ("/fz"): the test's own host object goes.
    for (const kv of await t.store.list<{ path: string }>('/backup-stores/')) rmSync(kv.value.path, { recursive: true, force: true });
    await t.done();
  }
});

/** The store's resources: every key and value but bookkeeping. */
async function resources(store: { list(prefix: string): Promise<{ key: string; value: unknown }[]> }): Promise<Record<string, unknown>> {
  return Object.fromEntries((await store.list('/')).filter((kv) => !BOOKKEEPING.test(kv.key)).map((kv) => [kv.key, kv.value]));
}
