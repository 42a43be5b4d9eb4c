/**
 * bench/container-launch: `nimbo launch tiny NAME --container` (through the API) to the init's ready
 * marker, against `runc run` of an equivalent bundle by hand to the same marker, interleaved; then a
 * density run (DENSITY system containers, default 200): total time and the daemon's RSS growth.
 * Needs root and runc (run: npm run bench:container-launch).
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { spawn } from 'node:child_process';
import { TestDaemon, sleep } from '../test/system/harness.js';
import { runArgv } from '../src/host/exec.js';

const RUNS = Number(process.env.RUNS ?? 7);
const DENSITY = Number(process.env.DENSITY ?? 200);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const marker = (name: string) => new RegExp(`NIMBO-READY ${name}\\b`);

/** Poll a log file every 5 ms until it shows the marker; seconds since t0. */
async function waitLog(file: string, re: RegExp, t0: number): Promise<number> {
  for (;;) {
    if (existsSync(file) && re.test(readFileSync(file, 'utf8'))) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > 60_000) throw new Error(`no ready marker in ${file}`);
    await sleep(5);
  }
}

async function op(d: TestDaemon, res: { status: number; body: { operation?: { id: string } } }) {
  if (!res.body.operation) throw new Error(`request failed: ${JSON.stringify(res.body)}`);
  const r = await d.api('GET', `/operations/${res.body.operation.id}/wait?timeout=120`);
  if (r.body.status !== 'success') throw new Error(`operation failed: ${JSON.stringify(r.body.error)}`);
}

const rss = (pid: number) => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

const d = await TestDaemon.start();
const runcRoot = join(d.stateDir, 'run', 'runc');
const rawDir = join(tmpdir(), `nimbo-bench-raw-${d.prefix}`);
try {
  const built = await d.cli('image', 'build', 'tiny', '--quiet');
  if (built.code !== 0) throw new Error(built.stderr);
  // The raw side: the bundle nimbo rendered for a container (its overlay root, ids shifted), run by hand.
  await op(d, await d.api('POST', '/instances', { name: 'rawsrc', image: 'tiny', type: 'container' }));
  await waitLog(join(d.stateDir, 'run', 'rawsrc', 'serial.log'), marker('rawsrc'), performance.now());
  await op(d, await d.api('POST', '/instances/rawsrc/stop', { force: true }));
  mkdirSync(rawDir, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(d.stateDir, 'instances', 'rawsrc', 'bundle', 'config.json'), 'utf8'));
  cfg.linux.cgroupsPath = `/nimbo-${d.prefix}-raw/run`;
  writeFileSync(join(rawDir, 'config.json'), JSON.stringify(cfg));

  const nimbo: number[] = [];
  const raw: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const name = `b${i}`;
    const t0 = performance.now();
    await op(d, await d.api('POST', '/instances', { name, image: 'tiny', type: 'container' }));
    nimbo.push(await waitLog(join(d.stateDir, 'run', name, 'serial.log'), marker(name), t0));
    await op(d, await d.api('DELETE', `/instances/${name}?force=true`));

    const log = join(rawDir, `run${i}.log`);
    const fd = openSync(log, 'a');
    const r0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const p = spawn('runc', ['--root', runcRoot, 'run', '-d', '--bundle', rawDir, `${d.prefix}-raw`], { stdio: ['ignore', fd, fd] });
      p.on('error', reject);
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`runc run exited ${code}`))));
    });
    closeSync(fd);
    raw.push(await waitLog(log, marker('rawsrc'), r0));
    await runArgv(['runc', '--root', runcRoot, 'delete', '--force', `${d.prefix}-raw`]);
    console.log(`container-launch: run ${i + 1}: nimbo ${nimbo.at(-1)!.toFixed(3)}s raw ${raw.at(-1)!.toFixed(3)}s`);
  }
  const n = median(nimbo);
  const r = median(raw);
  console.log(`container-launch: nimbo ${n.toFixed(3)}s raw ${r.toFixed(3)}s ratio ${(n / r).toFixed(2)}`);

  // Density: DENSITY containers one after another, on a restarted daemon (the launch runs' garbage
  // gone). Its RSS is read after WARM of them (code paths and caches warmed up) and after all, each
  // time once it has been idle for a few seconds; the growth is divided by the containers in between.
  await d.stop();
  await d.launch();
  const pid = d.proc!.pid!;
  const WARM = Math.min(10, DENSITY - 1);
  const settled = async () => {
    await sleep(3000);
    return rss(pid);
  };
  const t0 = performance.now();
  let before = 0;
  for (let i = 0; i < DENSITY; i++) {
    await op(d, await d.api('POST', '/instances', { name: `dn${i}`, image: 'tiny', type: 'container', memory: '64MiB' }));
    if (i + 1 === WARM) before = await settled();
  }
  const secs = (performance.now() - t0) / 1000 - 3;
  const running = (await d.api('GET', '/instances')).body.instances.filter((x: { state: string }) => x.state === 'running').length;
  const after = await settled();
  const per = (after - before) / (DENSITY - WARM);
  console.log(`container-density: ${DENSITY} containers started in ${secs.toFixed(1)} s (${running} running); daemon RSS ${(before / 2 ** 20).toFixed(1)} MiB after ${WARM} -> ${(after / 2 ** 20).toFixed(1)} MiB after ${DENSITY}, ${(per / 1024).toFixed(0)} KiB per container`);
  for (let i = 0; i < DENSITY; i++) await op(d, await d.api('DELETE', `/instances/dn${i}?force=true`));
  await op(d, await d.api('DELETE', '/instances/rawsrc?force=true'));
} finally {
  await runArgv(['runc', '--root', runcRoot, 'delete', '--force', `${d.prefix}-raw`], { allowFailure: true });
  const ls = await runArgv(['runc', '--root', runcRoot, 'list', '-q'], { allowFailure: true });
  for (const id of ls.stdout.split('\n').filter(Boolean)) await runArgv(['runc', '--root', runcRoot, 'delete', '--force', id], { allowFailure: true });
  for (const m of readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(d.stateDir)).reverse()) {
    await runArgv(['umount', '-l', m], { allowFailure: true });
  }
  const ns = (await runArgv(['ip', 'netns', 'list'], { allowFailure: true })).stdout;
  for (const m of ns.matchAll(new RegExp(`^(${d.prefix}-[0-9a-f]+)`, 'gm'))) await runArgv(['ip', 'netns', 'del', m[1]!], { allowFailure: true });
  rmSync(rawDir, { recursive: true, force: true });
  await d.cleanup();
  for (const c of ['/sys/fs/cgroup']) {
    const dirs = existsSync(join(c, 'cgroup.controllers')) ? [c] : (await runArgv(['ls', c])).stdout.split('\n').filter(Boolean).map((x) => join(c, x));
    for (const dir of dirs) for (const sub of [`nimbo-${d.prefix}-raw/run`, `nimbo-${d.prefix}-raw`, `nimbo-${d.prefix}`]) await runArgv(['rmdir', join(dir, sub)], { allowFailure: true });
  }
}
