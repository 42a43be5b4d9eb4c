/**
 * bench/warm-launch: a cold launch of an image (IMAGE, default tiny) to SSH against a warm launch (restored from
 * a template saved from a booted VM of the same image) to SSH, interleaved in one run, several runs each; prints
 * both and the ratio (issue 14 target: warm <= 0.2 x cold), and the daemon's restore / re-seed times of each warm
 * launch. Needs root (run: npm run bench:warm-launch; IMAGE=debian-12 builds that image first, ~5 min).
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TestDaemon, makeSshKey, sleep } from '../test/system/harness.js';
import { runArgv } from '../src/host/exec.js';

const RUNS = Number(process.env.RUNS ?? 3);
const IMAGE = process.env.IMAGE ?? 'tiny';
const MEMORY = process.env.MEMORY ?? '256MiB';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function op(d: TestDaemon, res: { status: number; body: { operation?: { id: string } } }): Promise<void> {
  if (res.status !== 202 || !res.body.operation) throw new Error(`refused: ${JSON.stringify(res.body)}`);
  const r = await d.api('GET', `/operations/${res.body.operation.id}/wait?timeout=300`);
  if (r.body.status !== 'success') throw new Error(`operation failed: ${JSON.stringify(r.body.error)}`);
}

/** SSH as root until `hostname` prints `name` (a new connection every 100 ms); seconds since t0. */
async function sshReady(key: string, ip: string, name: string, t0: number): Promise<number> {
  for (;;) {
    const r = await runArgv(['ssh', '-i', key, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=2', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', `root@${ip}`, 'hostname'], { allowFailure: true, timeoutMs: 10_000 });
    if (r.code === 0 && r.stdout.trim() === name) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > 180_000) throw new Error(`${name}: no SSH`);
    await sleep(100);
  }
}

/** Launch `image` as `name` over the API and time it to SSH; the address is known once the create operation ends. */
async function launchToSsh(d: TestDaemon, key: { key: string; pub: string }, image: string, name: string): Promise<{ ssh: number; op: number }> {
  const t0 = performance.now();
  await op(d, await d.api('POST', '/instances', { name, image, memory: MEMORY, sshKeys: [key.pub] }));
  const opSecs = (performance.now() - t0) / 1000;
  const info = (await d.api('GET', `/instances/${name}`)).body as { addresses: string[] };
  return { ssh: await sshReady(key.key, info.addresses[0]!, name, t0), op: opSecs };
}

/** The daemon log's state-restore and re-seed milliseconds of instance `vm` (info level; the harness's default is warn). */
function warmSteps(d: TestDaemon, vm: string): string {
  const file = join(d.stateDir, 'logs', 'nimbod.log');
  const ms = (msg: string): string => {
    if (!existsSync(file)) return '?';
    const line = readFileSync(file, 'utf8').split('\n').reverse().find((l) => l.includes(`"vm":"${vm}"`) && l.includes(msg));
    return line ? `${(JSON.parse(line) as { ms: number }).ms} ms` : '?';
  };
  return `state restored in ${ms('saved state restored')}, re-seeded in ${ms('restored guest re-seeded')}`;
}

process.env.NIMBO_LOG_LEVEL ??= 'info';
const d = await TestDaemon.start();
const key = await makeSshKey();
try {
  const built = await d.cli('image', 'build', IMAGE, '--quiet');
  if (built.code !== 0) throw new Error(built.stderr);
  // The template: a VM of IMAGE booted to SSH, saved while running.
  const src = await launchToSsh(d, key, IMAGE, 'src');
  const t0 = performance.now();
  await op(d, await d.api('POST', '/images/snapshot', { name: 'tpl', fromRunning: 'src' }));
  const saved = (performance.now() - t0) / 1000;
  const tpl = (await d.api('GET', '/images/tpl')).body as { template: { stateBytes: number } };
  console.log(`warm-launch: template saved from the running VM in ${saved.toFixed(2)}s, state ${(tpl.template.stateBytes / 1024 ** 2).toFixed(0)} MiB (its cold launch: ${src.ssh.toFixed(2)}s to SSH)`);
  await op(d, await d.api('DELETE', '/instances/src?force=true'));
  const cold: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const c = await launchToSsh(d, key, IMAGE, `cold${i}`);
    await op(d, await d.api('DELETE', `/instances/cold${i}?force=true`));
    const w = await launchToSsh(d, key, 'tpl', `warm${i}`);
    await op(d, await d.api('DELETE', `/instances/warm${i}?force=true`));
    cold.push(c.ssh);
    warm.push(w.ssh);
    console.log(`run ${i + 1}: cold ${c.ssh.toFixed(2)}s to SSH (create op ${c.op.toFixed(2)}s)  warm ${w.ssh.toFixed(2)}s to SSH (create op ${w.op.toFixed(2)}s; ${warmSteps(d, `warm${i}`)})`);
  }
  const c = median(cold);
  const w = median(warm);
  console.log(`warm-launch: cold ${c.toFixed(2)}s warm ${w.toFixed(2)}s ratio ${(w / c).toFixed(2)} (target <= 0.2), ${IMAGE} image, ${MEMORY.replace('MiB', ' MiB')}, TCG, median of ${RUNS}`);
  await op(d, await d.api('DELETE', '/images/private/tpl'));
} finally {
  await d.cleanup();
  rmSync(key.dir, { recursive: true, force: true });
}
