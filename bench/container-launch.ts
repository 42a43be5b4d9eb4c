/**
 * bench/container-launch: nimbo's container launch against its peers, interleaved, RUNS times (default 7):
 * - the user's command: `nimbo launch tiny NAME --container` through the CLI (./nimbo), against
 *   `podman run -d` (runc, its bridge network) and LXC (`lxc-start -d` + `lxc-wait`, a veth on a bridge)
 *   of the same busybox tree, each until the init's ready marker (bench/container-peers.ts);
 * - the API alone: `POST /instances` to the marker, against `runc run` of nimbo's own bundle by hand.
 * Then a density run (DENSITY system containers, default 200, 0 skips it): total time and the daemon's
 * RSS growth. Needs root, runc, podman and lxc (run: npm run bench:container-launch).
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { spawn } from 'node:child_process';
import { ROOT, TestDaemon, sleep } from '../test/system/harness.js';
import { runArgv } from '../src/host/exec.js';
import { Lxc, Podman, freeNet, readyMarker as marker, timeLaunch, umountBelow, waitLog, type Timing } from './container-peers.js';

const RUNS = Number(process.env.RUNS ?? 7);
const DENSITY = Number(process.env.DENSITY ?? 200);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const s3 = (x: number) => `${x.toFixed(3)}s`;
/** The targets: the CLI launch at most podman's, the API launch at most 2x raw runc. */
const CLI_TARGET = 1.0;
const API_TARGET = 2.0;

async function op(d: TestDaemon, res: { status: number; body: { operation?: { id: string } } }) {
  if (!res.body.operation) throw new Error(`request failed: ${JSON.stringify(res.body)}`);
  const r = await d.api('GET', `/operations/${res.body.operation.id}/wait?timeout=120`);
  if (r.body.status !== 'success') throw new Error(`operation failed: ${JSON.stringify(r.body.error)}`);
}

const rss = (pid: number) => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

/** The file ./nimbo runs: the bundle when it is newer than main.js (the launcher's own test). */
function cliFile(): string {
  const main = join(ROOT, 'dist/src/cli/main.js');
  const bundle = join(ROOT, 'dist/src/cli/nimbo.cjs');
  try {
    return statSync(bundle).mtimeMs > statSync(main).mtimeMs ? bundle : main;
  } catch {
    return main;
  }
}

/** The extracted tree of the tiny image (the overlay lower dir of nimbo's containers): STATE/images/.../rootfs.tree/root. */
function imageTree(stateDir: string): string {
  const walk = (dir: string, depth: number): string | undefined => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      if (e.name === 'rootfs.tree') return join(dir, e.name, 'root');
      const found = depth > 0 ? walk(join(dir, e.name), depth - 1) : undefined;
      if (found) return found;
    }
    return undefined;
  };
  const t = walk(join(stateDir, 'images'), 3);
  if (!t) throw new Error(`no image tree under ${stateDir}/images`);
  return t;
}

/**
 * Density: DENSITY containers one after another, on a restarted daemon (the launch runs' garbage gone).
 * Its RSS is read after WARM of them (code paths and caches warmed up) and after all, each time once it
 * has been idle for a few seconds; the growth is divided by the containers in between.
 */
async function density(d: TestDaemon): Promise<void> {
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
  const running = (await d.api('GET', '/instances?limit=1000')).body.instances.filter((x: { state: string }) => x.state === 'running').length;
  const after = await settled();
  const per = (after - before) / (DENSITY - WARM);
  console.log(`container-density: ${DENSITY} containers started in ${secs.toFixed(1)} s (${running} running); daemon RSS ${(before / 2 ** 20).toFixed(1)} MiB after ${WARM} -> ${(after / 2 ** 20).toFixed(1)} MiB after ${DENSITY}, ${(per / 1024).toFixed(0)} KiB per container`);
  // A failed delete is reported, not fatal: the run's cleanup removes what is left.
  const failed: string[] = [];
  for (let i = 0; i < DENSITY; i++) await op(d, await d.api('DELETE', `/instances/dn${i}?force=true`)).catch((e: Error) => failed.push(`dn${i}: ${e.message}`));
  if (failed.length) console.log(`container-density: ${failed.length} deletes failed, e.g. ${failed[0]}`);
}

const d = await TestDaemon.start();
const runcRoot = join(d.stateDir, 'run', 'runc');
const rawDir = join(tmpdir(), `nimbo-bench-raw-${d.prefix}`);
const peers: (Podman | Lxc)[] = [];
try {
  const built = await d.cli('image', 'build', 'tiny', '--quiet');
  if (built.code !== 0) throw new Error(built.stderr);
  // The raw side: the bundle nimbo rendered for a container (its overlay root, ids shifted), run by hand.
  await op(d, await d.api('POST', '/instances', { name: 'rawsrc', image: 'tiny', type: 'container' }));
  const rawsrcId = await d.idOf('rawsrc');
  await waitLog(join(d.stateDir, 'run', rawsrcId, 'serial.log'), marker('rawsrc'), performance.now());
  await op(d, await d.api('POST', '/instances/rawsrc/stop', { force: true }));
  mkdirSync(rawDir, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(d.stateDir, 'instances', rawsrcId, 'bundle', 'config.json'), 'utf8'));
  cfg.linux.cgroupsPath = `/nimbo-${d.prefix}-raw/run`;
  writeFileSync(join(rawDir, 'config.json'), JSON.stringify(cfg));

  const tree = imageTree(d.stateDir);
  const podNet = await freeNet([d.subnet]);
  const podman = new Podman(join(rawDir, 'podman'), d.prefix, podNet);
  const lxc = new Lxc(join(rawDir, 'lxc'), d.prefix, await freeNet([d.subnet, `${podNet}.0`]));
  podman.setup();
  await lxc.setup();
  peers.push(podman, lxc);
  const cli = cliFile();
  const env = { ...process.env, NIMBO_URL: d.url, NIMBO_TOKEN: d.token, NIMBO_STATE_DIR: d.stateDir };
  const launchCli = async (name: string): Promise<Timing> => {
    const runs = join(d.stateDir, 'run');
    const before = new Set(readdirSync(runs));
    // The new instance's run dir (named by its UUID) is the one that was not there before.
    const log = () => {
      const dir = readdirSync(runs).find((f) => !before.has(f));
      return dir ? join(runs, dir, 'serial.log') : undefined;
    };
    const t = await timeLaunch([join(ROOT, 'nimbo'), 'launch', 'tiny', name, '--container'], log, marker(name), env);
    await op(d, await d.api('DELETE', `/instances/${name}?force=true`));
    return t;
  };
  const launchApi = async (name: string): Promise<number> => {
    const t0 = performance.now();
    await op(d, await d.api('POST', '/instances', { name, image: 'tiny', type: 'container' }));
    const t = await waitLog(join(await d.runDirOf(name), 'serial.log'), marker(name), t0);
    await op(d, await d.api('DELETE', `/instances/${name}?force=true`));
    return t;
  };
  const launchRaw = async (i: number): Promise<number> => {
    const log = join(rawDir, `run${i}.log`);
    const fd = openSync(log, 'a');
    const r0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const p = spawn('runc', ['--root', runcRoot, 'run', '-d', '--bundle', rawDir, `${d.prefix}-raw`], { stdio: ['ignore', fd, fd] });
      p.on('error', reject);
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`runc run exited ${code}`))));
    });
    closeSync(fd);
    const t = await waitLog(log, marker('rawsrc'), r0);
    await runArgv(['runc', '--root', runcRoot, 'delete', '--force', `${d.prefix}-raw`]);
    return t;
  };

  // One untimed round first: podman initializes its storage on its first run, and every side gets warm caches.
  await launchCli('w0');
  await podman.launch(RUNS, tree).then(() => podman.remove(RUNS));
  await lxc.launch(RUNS, tree).then(() => lxc.remove(RUNS));
  await launchApi('w1');
  await launchRaw(RUNS);

  const t = { cli: [] as Timing[], podman: [] as Timing[], lxc: [] as (Timing & { running: number })[], api: [] as number[], raw: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    t.cli.push(await launchCli(`c${i}`));
    t.podman.push(await podman.launch(i, tree));
    await podman.remove(i);
    t.lxc.push(await lxc.launch(i, tree));
    await lxc.remove(i);
    t.api.push(await launchApi(`b${i}`));
    t.raw.push(await launchRaw(i));
    const [c, p, l] = [t.cli.at(-1)!, t.podman.at(-1)!, t.lxc.at(-1)!];
    console.log(`container-launch: run ${i + 1}: cli ${s3(c.ready)} (returned ${s3(c.exit)}) podman ${s3(p.ready)} (returned ${s3(p.exit)}) lxc ${s3(l.ready)} (running ${s3(l.running)}) api ${s3(t.api.at(-1)!)} raw-runc ${s3(t.raw.at(-1)!)}`);
  }
  const m = (xs: Timing[], k: keyof Timing = 'ready') => median(xs.map((x) => x[k]));
  const [cliM, podM, lxcM, apiM, rawM] = [m(t.cli), m(t.podman), m(t.lxc), median(t.api), median(t.raw)];
  const verdict = (ratio: number, target: number) => `(target <= ${target.toFixed(1)}: ${ratio <= target ? 'met' : 'missed'})`;
  console.log(`container-launch: medians of ${RUNS}, to the ready marker: nimbo CLI ${s3(cliM)} (command returned ${s3(m(t.cli, 'exit'))}; CLI ${cli.slice(ROOT.length)} via ./nimbo), podman ${s3(podM)} (returned ${s3(m(t.podman, 'exit'))}), lxc ${s3(lxcM)} (running ${s3(median(t.lxc.map((x) => x.running)))}), nimbo API ${s3(apiM)}, raw runc ${s3(rawM)}`);
  console.log(`container-launch: nimbo CLI / podman ${(cliM / podM).toFixed(2)} ${verdict(cliM / podM, CLI_TARGET)}; nimbo CLI / lxc ${(cliM / lxcM).toFixed(2)}; nimbo API / raw runc ${(apiM / rawM).toFixed(2)} ${verdict(apiM / rawM, API_TARGET)}`);
  await op(d, await d.api('DELETE', '/instances/rawsrc?force=true'));
  if (DENSITY > 0) await density(d);
} finally {
  for (const p of peers) await p.teardown();
  await runArgv(['runc', '--root', runcRoot, 'delete', '--force', `${d.prefix}-raw`], { allowFailure: true });
  await umountBelow(rawDir);
  rmSync(rawDir, { recursive: true, force: true });
  await d.cleanup();
  const cg = '/sys/fs/cgroup';
  for (const dir of existsSync(join(cg, 'cgroup.controllers')) ? [cg] : readdirSync(cg).map((x) => join(cg, x))) {
    for (const sub of [`nimbo-${d.prefix}-raw/run`, `nimbo-${d.prefix}-raw`]) await runArgv(['rmdir', join(dir, sub)], { allowFailure: true });
  }
}
