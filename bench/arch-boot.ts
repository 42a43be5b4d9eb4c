/**
 * bench/arch-boot: tiny VMs of other architectures under TCG. `nimbo launch tiny-aarch64` to the guest's
 * ready marker against the same QEMU argv (the one nimbo ran, read from /proc) run by hand to the same
 * marker, interleaved; plus the absolute boot times of x86_64 tiny (and riscv64 tiny, RISCV=1) the same
 * way. Needs root and network access to the Debian mirror on the first build (run: npm run bench:arch-boot).
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TestDaemon, processAlive, sleep } from '../test/system/harness.js';
import { runArgv } from '../src/host/exec.js';

const RUNS = Number(process.env.RUNS ?? 3);
const MARKER = (name: string) => new RegExp(`NIMBO-READY ${name}`);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Wait for the marker in the daemon's console log (polled every 20 ms). */
async function nimboReady(d: TestDaemon, name: string, t0: number): Promise<number> {
  for (;;) {
    const r = await d.api('GET', `/instances/${name}/console/log?bytes=65536`);
    if (typeof r.body === 'string' && MARKER(name).test(r.body)) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > 180_000) throw new Error(`${name}: no ready marker`);
    await sleep(20);
  }
}

/** Run QEMU by hand with `argv`, read its serial socket directly until the marker; returns seconds. */
async function rawRun(argv: string[], runDir: string, name: string): Promise<number> {
  const t0 = performance.now();
  await runArgv(argv); // -daemonize: returns once QEMU is up
  const secs = await new Promise<number>((resolve, reject) => {
    let buf = '';
    const s = connect(join(runDir, 'serial.sock'));
    const timer = setTimeout(() => reject(new Error('raw: no ready marker')), 180_000);
    s.on('data', (b) => {
      buf += b.toString();
      if (MARKER(name).test(buf)) {
        clearTimeout(timer);
        s.destroy();
        resolve((performance.now() - t0) / 1000);
      }
    });
    s.on('error', reject);
  });
  const pid = Number(readFileSync(join(runDir, 'qemu.pid'), 'utf8'));
  process.kill(pid, 'SIGKILL');
  while (processAlive(pid)) await sleep(20);
  return secs;
}

/**
 * Give the raw run a first boot too: a new overlay on the same backing file as nimbo's root disk
 * (the guest grows its root fs and makes host keys on a first boot).
 */
async function freshDisk(argv: string[], size: number): Promise<void> {
  const root = argv.map((a) => /"node-name":"f-root".*"filename":"([^"]+)"|"filename":"([^"]+)".*"node-name":"f-root"/.exec(a)).find(Boolean);
  const disk = root?.[1] ?? root?.[2];
  if (!disk) throw new Error('root disk not found in the QEMU argv');
  const info = JSON.parse((await runArgv(['qemu-img', 'info', '--output=json', '-U', disk])).stdout) as { 'full-backing-filename'?: string; 'backing-filename-format'?: string };
  const base = info['full-backing-filename'];
  if (!base) throw new Error(`${disk} has no backing file`);
  await runArgv(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', info['backing-filename-format'] ?? 'qcow2', '-b', base, disk, String(size)]);
  await runArgv(['chown', 'nimbo-qemu:', disk]);
}

async function op(d: TestDaemon, res: { body: { operation: { id: string } } }) {
  const r = await d.api('GET', `/operations/${res.body.operation.id}/wait?timeout=120`);
  if (r.body.status !== 'success') throw new Error(`operation failed: ${JSON.stringify(r.body.error)}`);
}


/** Boots `image` RUNS times through nimbo and by hand; prints each run and returns the medians. */
async function bench(d: TestDaemon, image: string, arch: string): Promise<{ nimbo: number; raw: number }> {
  const built = await d.cli('image', 'build', image, '--quiet');
  if (built.code !== 0) throw new Error(built.stderr);
  const nimbo: number[] = [];
  const raw: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const name = `${arch.replace('_', '')}-${i}`;
    const t0 = performance.now();
    const res = await d.api('POST', '/instances', { name, image, arch, memory: '256MiB' });
    if (res.status !== 202) throw new Error(JSON.stringify(res.body));
    nimbo.push(await nimboReady(d, name, t0));
    await op(d, res);
    const info = (await d.api('GET', `/instances/${name}`)).body as { id: string; pid: number; disk: number };
    // The exact argv nimbo ran, minus -S: nimbo starts QEMU paused and resumes it once its console relay is attached.
    const argv = readFileSync(`/proc/${info.pid}/cmdline`, 'utf8').split('\0').filter(Boolean).filter((a) => a !== '-S');
    if (i === 0) console.log(`${arch} argv: ${argv.slice(0, 12).join(' ')} ...`);
    await op(d, await d.api('POST', `/instances/${name}/stop`, { force: true }));
    await freshDisk(argv, info.disk);
    raw.push(await rawRun(argv, join(d.stateDir, 'run', info.id), name));
    await op(d, await d.api('DELETE', `/instances/${name}`));
    console.log(`${arch} run ${i + 1}: nimbo ${nimbo[i]!.toFixed(2)}s  raw ${raw[i]!.toFixed(2)}s`);
  }
  return { nimbo: median(nimbo), raw: median(raw) };
}

const d = await TestDaemon.start();
try {
  const cases: [string, string][] = [['tiny-aarch64', 'aarch64'], ['tiny', 'x86_64'], ...(process.env.RISCV === '1' ? [['tiny-riscv64', 'riscv64'] as [string, string]] : [])];
  for (const [image, arch] of cases) {
    try {
      const m = await bench(d, image, arch);
      console.log(`arch-boot: ${arch} tiny to ready marker (TCG): nimbo ${m.nimbo.toFixed(2)}s raw ${m.raw.toFixed(2)}s ratio ${(m.nimbo / m.raw).toFixed(2)}${arch === 'aarch64' ? ' (target <= 1.10)' : ''}`);
    } catch (e) {
      console.log(`arch-boot: ${arch}: failed: ${(e as Error).message}`);
    }
  }
} finally {
  await d.cleanup();
}
