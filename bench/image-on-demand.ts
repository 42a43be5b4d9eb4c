/**
 * bench/image-on-demand: time from `nimbo launch IMAGE` with the image missing to SSH answering (A),
 * against `nimbo image build IMAGE` followed by `nimbo launch IMAGE` to SSH (B); target A/B <= 1.05.
 * Each run deletes the image first, on a daemon with a temporary state dir. Needs root and, for
 * debian-12 (the default), a Debian mirror. Usage: npm run bench:image-on-demand -- [--image tiny] [--runs N]
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { rmSync } from 'node:fs';
import { TestDaemon, makeSshKey, sshUntil } from '../test/system/harness.js';

const { values } = parseArgs({ options: { image: { type: 'string', default: 'debian-12' }, runs: { type: 'string', default: process.env.RUNS ?? '1' } } });
const image = values.image!;
const runs = Number(values.runs);
if (!['tiny', 'debian-12'].includes(image) || !Number.isInteger(runs) || runs < 1) {
  console.error('usage: image-on-demand [--image tiny|debian-12] [--runs N]');
  process.exit(2);
}
const memory = image === 'tiny' ? '256MiB' : '1GiB';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const d = await TestDaemon.start();
const key = await makeSshKey();

async function cli(...args: string[]): Promise<void> {
  const r = await d.cli(...args, '--quiet');
  if (r.code !== 0) throw new Error(`nimbo ${args.join(' ')}: ${r.stderr}`);
}

/** Seconds from t0 until root@ the instance's first address answers SSH. */
async function sshReady(name: string, t0: number): Promise<number> {
  const info = await d.cliJson<{ addresses: string[] }>('info', name);
  const r = await sshUntil(key.key, info.addresses[0]!, 600_000, 'true');
  if (r.code !== 0) throw new Error(`${name}: no SSH: ${r.stderr}`);
  return (performance.now() - t0) / 1000;
}

/** Delete the instance and the image, so the next run starts without the image. */
async function reset(name: string): Promise<void> {
  await cli('delete', name, '--force');
  await cli('image', 'delete', image);
}

try {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < runs; i++) {
    // A: the launch builds the missing image in its own operation.
    let t0 = performance.now();
    await cli('launch', image, `a${i}`, '--ssh-key', `${key.key}.pub`, '--memory', memory);
    a.push(await sshReady(`a${i}`, t0));
    await reset(`a${i}`);
    // B: build by hand, then launch.
    t0 = performance.now();
    await cli('image', 'build', image);
    const built = (performance.now() - t0) / 1000;
    await cli('launch', image, `b${i}`, '--ssh-key', `${key.key}.pub`, '--memory', memory);
    b.push(await sshReady(`b${i}`, t0));
    await reset(`b${i}`);
    console.log(`run ${i + 1}: launch-on-demand ${a[i]!.toFixed(1)}s  build+launch ${b[i]!.toFixed(1)}s (build ${built.toFixed(1)}s)`);
  }
  const ma = median(a);
  const mb = median(b);
  console.log(`image-on-demand (${image}, ${runs} run${runs > 1 ? 's' : ''}): launch with the image missing to SSH ${ma.toFixed(1)}s, image build + launch to SSH ${mb.toFixed(1)}s, ratio ${(ma / mb).toFixed(3)} (target <= 1.05)`);
} finally {
  await d.cleanup();
  rmSync(key.dir, { recursive: true, force: true });
}
