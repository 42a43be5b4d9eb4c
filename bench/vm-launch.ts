/**
 * bench/vm-launch: `nimbo launch tiny` to the guest's ready marker, against the same QEMU argv run
 * by hand to the same marker, interleaved, several runs each. Needs root (run: npm run bench:vm-launch).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TestDaemon } from '../test/system/harness.js';
import { freshDisk, median, nimboReady, op, rawRun } from './boot-kit.js';

const RUNS = Number(process.env.RUNS ?? 5);

const d = await TestDaemon.start();
try {
  const built = await d.cli('image', 'build', 'tiny', '--quiet');
  if (built.code !== 0) throw new Error(built.stderr);
  const nimbo: number[] = [];
  const raw: number[] = [];
  const create: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const name = `bench${i}`;
    const t0 = performance.now();
    const res = await d.api('POST', '/instances', { name, image: 'tiny', memory: '256MiB' });
    create.push(performance.now() - t0);
    if (res.status !== 202) throw new Error(JSON.stringify(res.body));
    nimbo.push(await nimboReady(d, name, t0));
    await op(d, res);
    const info = (await d.api('GET', `/instances/${name}`)).body as { id: string; pid: number; disk: number };
    // The exact argv nimbo ran, minus -S: nimbo starts QEMU paused and resumes it once its console relay is attached.
    const argv = readFileSync(`/proc/${info.pid}/cmdline`, 'utf8').split('\0').filter(Boolean).filter((a) => a !== '-S');
    await op(d, await d.api('POST', `/instances/${name}/stop`, { force: true }));
    await freshDisk(argv, info.disk);
    raw.push(await rawRun(argv, join(d.stateDir, 'run', info.id), name));
    await op(d, await d.api('DELETE', `/instances/${name}`));
    console.log(`run ${i + 1}: nimbo ${nimbo[i]!.toFixed(2)}s (create API ${create[i]!.toFixed(0)} ms)  raw ${raw[i]!.toFixed(2)}s`);
  }
  const n = median(nimbo);
  const r = median(raw);
  console.log(`vm-launch: create API median ${median(create).toFixed(0)} ms (target < 100 ms)`);
  console.log(`vm-launch: nimbo ${n.toFixed(2)}s raw ${r.toFixed(2)}s ratio ${(n / r).toFixed(2)}`);
} finally {
  await d.cleanup();
}
