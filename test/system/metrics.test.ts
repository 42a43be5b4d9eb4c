// Metrics on a real daemon: the real Prometheus server (Debian's /usr/bin/prometheus, own port and storage dir)
// scrapes nimbod's /metrics with a bearer token file, and its HTTP API answers one container's CPU series; the
// history route answers points for the same container; history files survive a daemon restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDaemon, sleep, systemSkipReason } from './harness.js';

const PROMETHEUS = '/usr/bin/prometheus';
const skip = systemSkipReason() ?? (existsSync(PROMETHEUS) || process.env.CI === 'true' ? undefined : 'prometheus is not installed (scripts/test-packages.txt)');

/** A loopback port nobody listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Poll `f` until it returns a value (not undefined) or `ms` pass. */
async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await sleep(500);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

describe('metrics scraped by the real Prometheus', { skip }, () => {
  let d: TestDaemon;
  let prom: ChildProcess | undefined;
  let promLog = '';
  let dir = '';
  let promUrl = '';

  before(async () => {
    d = await TestDaemon.start();
    dir = mkdtempSync(join(tmpdir(), `nimbo-${d.prefix}-prom-`));
  });
  after(async () => {
    if (prom && prom.exitCode === null) {
      const gone = new Promise((r) => prom!.once('exit', r));
      prom.kill('SIGTERM');
      await Promise.race([gone, sleep(5000)]);
      if (prom.exitCode === null) prom.kill('SIGKILL');
    }
    await d?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('Prometheus scrapes /metrics with a token file and answers a container CPU series; the history route has its points', { timeout: 240_000 }, async () => {
    const launch = await d.cli('launch', 'tiny', 'm1', '--container', '--memory', '64MiB', '--quiet');
    assert.equal(launch.code, 0, launch.stderr);
    // Some CPU work inside, so the counter is visibly above zero.
    await d.cli('exec', 'm1', '--', 'sh', '-c', 'i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done');

    // /metrics needs a credential like every route; the answer is the text exposition.
    const base = d.url;
    assert.equal((await fetch(`${base}/metrics`)).status, 401);
    const own = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${d.token}` } });
    assert.equal(own.status, 200);
    assert.equal(own.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(await own.text(), /^# TYPE nimbo_host_cpu_seconds_total counter$/m);

    const tokenFile = join(dir, 'nimbo.token');
    writeFileSync(tokenFile, d.token + '\n', { mode: 0o600 });
    const port = await freePort();
    const target = new URL(base).host;
    // honor_labels: nimbo's own `instance` label (the instance name) is kept instead of becoming exported_instance.
    writeFileSync(join(dir, 'prometheus.yml'), [
      'global:',
      '  scrape_interval: 2s',
      'scrape_configs:',
      '  - job_name: nimbo',
      '    honor_labels: true',
      '    authorization:',
      `      credentials_file: ${tokenFile}`,
      '    static_configs:',
      `      - targets: ['${target}']`,
      '',
    ].join('\n'));
    prom = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    prom.stderr!.on('data', (b: Buffer) => (promLog = (promLog + b.toString()).slice(-4000)));
    promUrl = `http://127.0.0.1:${port}`;
    const query = async (q: string) => {
      const r = (await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      assert.equal(r.status, 'success');
      return r.data.result;
    };
    try {
      const up = await until('the nimbo target up', 60_000, async () => ((await query('up{job="nimbo"}'))[0]?.value[1] === '1' ? true : undefined));
      assert.ok(up);
      const cpu = await until('the CPU series of m1', 60_000, async () => {
        const r = await query('nimbo_instance_cpu_seconds_total{instance="m1",project="default",type="container"}');
        return r.length ? r : undefined;
      });
      assert.equal(cpu.length, 1);
      assert.ok(Number(cpu[0]!.value[1]) > 0, `cpu seconds ${cpu[0]!.value[1]}`);
      const state = await query('nimbo_instance_state{instance="m1"}');
      assert.equal(state[0]?.metric.state, 'running');
      assert.ok((await query('nimbo_host_memory_total_bytes'))[0]);
    } catch (e) {
      throw new Error(`${String(e)}\nprometheus said: ${promLog}`);
    }

    // The history: 10-s points for the last hour, the latest with memory, and CPU once two samples exist.
    const hist = await until('two samples of m1 in the history', 45_000, async () => {
      const r = await d.api('GET', '/instances/m1/metrics?range=1h');
      assert.equal(r.status, 200);
      const cpuPoints = (r.body.series.cpu as (number | null)[]).filter((v) => v !== null);
      return cpuPoints.length >= 1 ? r.body : undefined;
    });
    assert.equal(hist.step, 10);
    assert.equal(hist.t.length, 360);
    assert.ok((hist.series.memory as (number | null)[]).some((v) => v !== null && v > 0), 'memory points');
    const host = await d.api('GET', '/host/metrics?range=30d');
    assert.equal(host.status, 200);
    assert.equal(host.body.step, 300);
    assert.ok((host.body.series.memoryTotal as (number | null)[]).at(-1)! > 0, 'the open 5 minutes are averaged on read');
    assert.equal((await d.api('GET', '/instances/m1/metrics?range=2h')).status, 400);
    assert.equal((await d.api('GET', '/instances/nope/metrics')).status, 404);

    // A restart keeps the history (flushed at shutdown, 0600 files): at least the points there were before.
    const before = (hist.series.memory as (number | null)[]).filter((v) => v !== null).length;
    assert.ok(before >= 2);
    const id = await d.idOf('m1');
    await d.stop();
    assert.equal(statSync(join(d.stateDir, 'metrics', `${id}.ring`)).mode & 0o777, 0o600);
    await d.launch();
    const back = await d.api('GET', '/instances/m1/metrics?range=1h');
    assert.ok((back.body.series.memory as (number | null)[]).filter((v) => v !== null).length >= before, 'points from before the restart');
  });
});
