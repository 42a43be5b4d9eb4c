/** Shared by bench/vm-launch and bench/arch-boot: time a tiny VM to its ready marker through nimbo and by hand. */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TestDaemon, processAlive, sleep } from '../test/system/harness.js';
import { runArgv } from '../src/host/exec.js';

export const MARKER = (name: string) => new RegExp(`NIMBO-READY ${name}`);

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Wait for the marker in the daemon's console log (polled every 20 ms). */
export async function nimboReady(d: TestDaemon, name: string, t0: number): Promise<number> {
  for (;;) {
    const r = await d.api('GET', `/instances/${name}/console/log?bytes=65536`);
    if (typeof r.body === 'string' && MARKER(name).test(r.body)) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > 180_000) throw new Error(`${name}: no ready marker`);
    await sleep(20);
  }
}

/** Run QEMU by hand with `argv`, read its serial socket directly until the marker; returns seconds. */
export async function rawRun(argv: string[], runDir: string, name: string): Promise<number> {
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
export async function freshDisk(argv: string[], size: number): Promise<void> {
  const root = argv.map((a) => /"node-name":"f-root".*"filename":"([^"]+)"|"filename":"([^"]+)".*"node-name":"f-root"/.exec(a)).find(Boolean);
  const disk = root?.[1] ?? root?.[2];
  if (!disk) throw new Error('root disk not found in the QEMU argv');
  const info = JSON.parse((await runArgv(['qemu-img', 'info', '--output=json', '-U', disk])).stdout) as { 'full-backing-filename'?: string; 'backing-filename-format'?: string };
  const base = info['full-backing-filename'];
  if (!base) throw new Error(`${disk} has no backing file`);
  await runArgv(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', info['backing-filename-format'] ?? 'qcow2', '-b', base, disk, String(size)]);
  await runArgv(['chown', 'nimbo-qemu:', disk]);
}

/** Wait for an Operation a 202 answer started; throws unless it succeeded. */
export async function op(d: TestDaemon, res: { body: { operation: { id: string } } }) {
  const r = await d.api('GET', `/operations/${res.body.operation.id}/wait?timeout=120`);
  if (r.body.status !== 'success') throw new Error(`operation failed: ${JSON.stringify(r.body.error)}`);
}
