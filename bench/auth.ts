/**
 * bench/auth: the per-request cost of nimbo's authentication (decided on the matched route, deny by
 * default: src/api/authn.ts) against the hook it replaced (a string prefix of the raw URL, kept here
 * only as the baseline), on the same route with the same token store and handler, over real HTTP
 * keep-alive connections on loopback. Rounds alternate; p50 and p99 per request are printed.
 * Needs nothing but Node (run: npm run bench:auth).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import Fastify, { type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import { installAuthentication } from '../src/api/authn.js';
import { ensureAdminToken, verifyToken } from '../src/core/auth.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { Store } from '../src/store/store.js';

const ROUNDS = Number(process.env.ROUNDS ?? 10);
const PER_ROUND = Number(process.env.PER_ROUND ?? 4000);
const HOST = { hostname: 'bench', cpus: 2, memory: 1 << 30, accelerator: 'tcg' };

/** The hook main had before: public unless the raw URL starts with /api/ (the bypass this issue closed). */
function legacyAuth(app: FastifyInstance, store: Store) {
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0]!;
    if (path === '/api/v1/health' || !path.startsWith('/api/')) return;
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : (req.query as { token?: string } | undefined)?.token;
    if (!(await verifyToken(store, token))) return reply.code(401).send({ error: { code: 'Unauthorized', message: 'missing or invalid bearer token' } });
  });
}

async function server(store: Store, kind: 'route' | 'legacy'): Promise<{ app: FastifyInstance; port: number }> {
  const app = Fastify({ logger: false });
  await app.register(websocket);
  if (kind === 'route') installAuthentication(app, () => store);
  else legacyAuth(app, store);
  await app.register(async (api) => {
    api.get('/health', { config: { public: true } }, async () => ({ status: 'ok' }));
    api.get('/host', async () => HOST);
  }, { prefix: '/api/v1' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, port: (app.server.address() as { port: number }).port };
}

/** PER_ROUND sequential GETs on one keep-alive connection; the latency of each in microseconds. */
async function round(port: number, token: string): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const out: number[] = [];
  for (let i = 0; i < PER_ROUND; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/api/v1/host', agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    out.push((performance.now() - t0) * 1000);
  }
  agent.destroy();
  return out;
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

const dir = mkdtempSync(join(tmpdir(), 'nimbo-bench-auth-'));
const store = new SqliteStore(join(dir, 'state.db'));
try {
  const token = await ensureAdminToken(store, join(dir, 'admin.token'));
  const neu = await server(store, 'route');
  const old = await server(store, 'legacy');
  await round(neu.port, token); // warm both up
  await round(old.port, token);
  const all = { route: [] as number[], legacy: [] as number[] };
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate the order so drift on a shared machine hits both alike.
    const order = r % 2 === 0 ? (['route', 'legacy'] as const) : (['legacy', 'route'] as const);
    for (const k of order) all[k].push(...(await round(k === 'route' ? neu.port : old.port, token)));
  }
  await neu.app.close();
  await old.app.close();
  const line = (k: 'route' | 'legacy') => `auth: ${k === 'route' ? 'matched-route (new)' : 'url-prefix (old) '}  p50 ${pct(all[k], 50).toFixed(1)} µs  p99 ${pct(all[k], 99).toFixed(1)} µs  (${all[k].length} requests)`;
  console.log(line('legacy'));
  console.log(line('route'));
  console.log(`auth: ratio p50 ${(pct(all.route, 50) / pct(all.legacy, 50)).toFixed(3)}  p99 ${(pct(all.route, 99) / pct(all.legacy, 99)).toFixed(3)}`);
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
