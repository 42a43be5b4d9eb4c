/**
 * bench/arch-boot: tiny VMs of other architectures under TCG. `nimbo launch tiny-aarch64` to the guest's
 * ready marker against the same QEMU argv (the one nimbo ran, read from /proc) run by hand to the same
 * marker, interleaved; plus the absolute boot times of x86_64 tiny (and riscv64 tiny, RISCV=1) the same
 * way. Needs root and network access to the Debian mirror on the first build (run: npm run bench:arch-boot).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TestDaemon } from '../test/system/harness.js';
import { freshDisk, median, nimboReady, op, rawRun } from './boot-kit.js';

const RUNS = Number(process.env.RUNS ?? 3);


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
