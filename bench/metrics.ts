/**
 * bench/metrics: GET /metrics with 200 instances (target < 100 ms), against reading the same counters raw.
 *
 * What is real: nimbo's HTTP server (bearer-token authentication and authorization over a SQLite token store),
 * the sampler, the history rings and the renderer; 200 real processes (`sleep`) whose /proc/PID/{stat,status,io}
 * are read as each instance's CPU, memory and disk counters (the qemu driver reads /proc the same way), and 200
 * real tap devices whose sysfs counters are each instance's NIC. What is not: no guests run (the processes idle),
 * and the records are made here, not by launches. Needs root (taps). Run: npm run bench:metrics.
 *
 * Printed: scrape p50/p99 over SCRAPES requests on one keep-alive connection; one sampler tick (all 200
 * instances and the host) against one raw pass reading the same files directly; the ratios.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { buildServer } from '../src/api/server.js';
import type { ApiContext } from '../src/api/context.js';
import { ensureAdminToken } from '../src/core/auth.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { silentLogger } from '../src/lib/log.js';
import { runArgv } from '../src/host/exec.js';
import { readNicStats } from '../src/host/net-counters.js';
import { readHostCounters } from '../src/host/proc-host.js';
import { procUsage } from '../src/drivers/compute/qemu/proc-usage.js';
import { MetricsHistory } from '../src/core/metrics/history.js';
import { MetricsSampler } from '../src/core/metrics/sampler.js';
import { MetricsService } from '../src/core/metrics/metrics-service.js';
import { OperationStats } from '../src/core/metrics/op-stats.js';
import type { InstanceRecord } from '../src/core/instance-record.js';

const N = Number(process.env.INSTANCES ?? 200);
const SCRAPES = Number(process.env.SCRAPES ?? 300);
const TICKS = Number(process.env.TICKS ?? 20);

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const ms = (v: number) => `${v.toFixed(2)} ms`;

/** /proc/PID/io as disk counters (read_bytes/write_bytes, syscr/syscw). */
async function procIo(pid: number) {
  const t = await readFile(`/proc/${pid}/io`, 'utf8');
  const f = (k: string) => Number(new RegExp(`^${k}: (\\d+)$`, 'm').exec(t)?.[1] ?? 0);
  return { readBytes: f('read_bytes'), writeBytes: f('write_bytes'), reads: f('syscr'), writes: f('syscw') };
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('bench/metrics needs root (it makes tap devices)');
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-bench-metrics-'));
  const tag = randomBytes(2).toString('hex');
  const taps: string[] = [];
  const procs: ChildProcess[] = [];
  const store = new SqliteStore(join(dir, 'state.db'));
  let close = async () => {};
  try {
    // 200 real processes and 200 real taps, the host objects behind the "instances".
    for (let i = 0; i < N; i++) {
      procs.push(spawn('sleep', ['3600'], { stdio: 'ignore' }));
      const tap = `nbm${tag}${i}`;
      await runArgv(['ip', 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
      taps.push(tap);
    }
    const records = procs.map((p, i) => ({
      name: `bench-${i}`, uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, project: `p${i % 10}`, type: 'vm', state: 'running',
      nics: [{ name: 'eth0', tap: taps[i]! }], pid: p.pid!,
    })) as unknown as (InstanceRecord & { pid: number })[];
    const history = new MetricsHistory(join(dir, 'metrics'));
    const sampler = new MetricsSampler(
      {
        records: async () => records,
        status: async (rec) => {
          const pid = (rec as InstanceRecord & { pid: number }).pid;
          const [u, disk] = await Promise.all([procUsage(pid), procIo(pid)]);
          return { state: 'running', pid, usage: { ...u!, disk } };
        },
        nic: (dev) => readNicStats(dev),
        host: () => readHostCounters(),
        pools: async () => [{ name: 'default', capacityBytes: 1e12, usedBytes: 1e11 }],
      },
      history,
      silentLogger(),
    );
    const ops = new OperationStats();
    for (let i = 0; i < 500; i++) ops.record(['instance.start', 'instance.stop', 'instance.create', 'backup.create'][i % 4]!, i % 10 ? 'success' : 'failure', (i % 37) * 0.7);
    const metrics = new MetricsService(sampler, history, ops);

    // One sampler tick against one raw pass over the same files, alternating.
    const tickMs: number[] = [];
    const rawMs: number[] = [];
    for (let r = 0; r < TICKS; r++) {
      let t0 = performance.now();
      await sampler.tick();
      tickMs.push(performance.now() - t0);
      t0 = performance.now();
      const lines: string[] = [];
      await Promise.all(records.map(async (rec) => {
        const [u, io, nic] = await Promise.all([procUsage(rec.pid), procIo(rec.pid), readNicStats(rec.nics[0]!.tap)]);
        lines.push(`${rec.name} ${u?.cpuSeconds} ${u?.memoryBytes} ${io.readBytes} ${io.writeBytes} ${nic?.rx} ${nic?.tx}`);
      }));
      await readHostCounters();
      rawMs.push(performance.now() - t0);
    }

    const token = await ensureAdminToken(store, join(dir, 'admin.token'));
    const ctx = new Proxy({ log: silentLogger(), store, metrics } as unknown as ApiContext, {
      get: (t, p) => (t as unknown as Record<string | symbol, unknown>)[p],
    });
    const app = await buildServer(ctx);
    await app.listen({ host: '127.0.0.1', port: 0 });
    close = () => app.close();
    const port = (app.server.address() as { port: number }).port;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const scrape = () =>
      new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/metrics', agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`status ${res.statusCode}: ${body}`))));
        });
        req.on('error', reject);
        req.end();
      });
    const first = await scrape();
    const shown = new Set([...first.matchAll(/^nimbo_instance_cpu_seconds_total\{[^}]*name="([^"]+)"/gm)].map((m) => m[1]));
    if (shown.size !== N) throw new Error(`the exposition shows ${shown.size} instances, not ${N}`);
    const scrapeMs: number[] = [];
    for (let i = 0; i < SCRAPES; i++) {
      const t0 = performance.now();
      await scrape();
      scrapeMs.push(performance.now() - t0);
    }
    const renderMs: number[] = [];
    for (let i = 0; i < SCRAPES; i++) {
      const t0 = performance.now();
      metrics.exposition();
      renderMs.push(performance.now() - t0);
    }
    agent.destroy();
    const p50 = pct(scrapeMs, 50);
    const p99 = pct(scrapeMs, 99);
    console.log(`metrics: ${N} instances (real processes read through /proc, real taps through sysfs; no guests), exposition ${first.split('\n').length - 1} lines, ${(first.length / 1024).toFixed(0)} KiB`);
    console.log(`metrics: GET /metrics (HTTP, bearer token)  p50 ${ms(p50)}  p99 ${ms(p99)}  (${SCRAPES} scrapes; target < 100 ms: ${p99 < 100 ? 'met' : 'NOT met'})`);
    console.log(`metrics: render only                         p50 ${ms(pct(renderMs, 50))}  p99 ${ms(pct(renderMs, 99))}`);
    console.log(`metrics: raw read of the same counters        p50 ${ms(pct(rawMs, 50))}  p99 ${ms(pct(rawMs, 99))}  (${TICKS} passes)`);
    console.log(`metrics: sampler tick (all ${N} + host)        p50 ${ms(pct(tickMs, 50))}  p99 ${ms(pct(tickMs, 99))}  (${TICKS} ticks, 8 at a time)`);
    console.log(`metrics: ratio scrape/raw p50 ${(p50 / pct(rawMs, 50)).toFixed(3)}  tick/raw p50 ${(pct(tickMs, 50) / pct(rawMs, 50)).toFixed(3)}`);
    console.log(`metrics: history ${history.keys().length} rings in memory`);
  } finally {
    await close();
    await store.close();
    for (const p of procs) p.kill('SIGKILL');
    for (const t of taps) await runArgv(['ip', 'link', 'del', t], { allowFailure: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
