/**
 * bench/image-fetch: daemon B fetching a ~256 MiB image from daemon A's image server (`nimbo image fetch REMOTE:IMAGE`:
 * download, sha256 check, qemu-img check, into B's cache) against `curl -o` of the same file from the same server over
 * the same loopback; target ratio <= 1.2. Needs root (two real daemons). Usage: npm run bench:image-fetch -- [--runs N] [--mib N]
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDaemon } from '../test/system/harness.js';
import { runArgv } from '../src/host/exec.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: process.env.RUNS ?? '3' }, mib: { type: 'string', default: '256' } } });
const runs = Number(values.runs);
const mib = Number(values.mib);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(mib) || mib < 2) {
  console.error('usage: image-fetch [--runs N] [--mib N]');
  process.exit(2);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const tmp = mkdtempSync(join(tmpdir(), 'nimbo-bench-fetch-'));
const [a, b] = await Promise.all([TestDaemon.start(['--image-server']), TestDaemon.start()]);

async function cli(d: TestDaemon, ...args: string[]): Promise<void> {
  const r = await d.cli(...args);
  if (r.code !== 0) throw new Error(`nimbo ${args.join(' ')}: ${r.stderr}`);
}

/** POST a request that answers an Operation and wait for it to succeed; seconds taken. */
async function timedOp(d: TestDaemon, method: string, path: string): Promise<number> {
  const t0 = performance.now();
  const r = await d.api(method, path);
  if (r.status !== 202) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  const done = await d.api('GET', `/operations/${r.body.operation.id}/wait?timeout=600`);
  if (done.body.status !== 'success') throw new Error(`${path}: ${JSON.stringify(done.body)}`);
  return (performance.now() - t0) / 1000;
}

try {
  // A raw disk of random (incompressible) bytes with a boot signature, imported on A (as qcow2: the file A serves).
  const raw = join(tmp, 'big.img');
  const fd = openSync(raw, 'w');
  for (let i = 0; i < mib; i++) {
    const chunk = randomBytes(1024 * 1024);
    if (i === 0) chunk.writeUInt16BE(0x55aa, 510);
    writeSync(fd, chunk);
  }
  closeSync(fd);
  await cli(a, 'image', 'import', raw, '--name', 'big', '--quiet');
  rmSync(raw);
  const tokenFile = join(tmp, 'a.token');
  writeFileSync(tokenFile, a.token, { mode: 0o600 });
  await cli(b, 'image', 'remote', 'add', 'lab', a.url, '--remote-token-file', tokenFile);
  // The index (A hashes its files once, then keeps the sums) before anything is timed.
  const served = await b.cliJson<{ name: string; files: { name: string; size: number }[] }[]>('image', 'list', 'lab:');
  const disk = served.find((i) => i.name === 'big')!.files[0]!;
  const fileUrl = `${a.url}/api/v1/image-server/images/big/files/${disk.name}`;
  console.log(`image: ${(disk.size / 1024 / 1024).toFixed(0)} MiB ${disk.name} served by daemon A over loopback`);
  const nimbo: number[] = [];
  const curl: number[] = [];
  for (let i = 0; i < runs; i++) {
    const out = join(tmp, 'curl.out');
    let t0 = performance.now();
    await runArgv(['curl', '-sS', '--fail', '-o', out, '-H', `authorization: Bearer ${a.token}`, fileUrl]);
    curl.push((performance.now() - t0) / 1000);
    rmSync(out);
    nimbo.push(await timedOp(b, 'POST', '/image-remotes/lab/images/big/fetch'));
    await timedOp(b, 'DELETE', '/images/lab:big');
    console.log(`run ${i + 1}: nimbo image fetch ${nimbo[i]!.toFixed(3)}s  curl -o ${curl[i]!.toFixed(3)}s  ratio ${(nimbo[i]! / curl[i]!).toFixed(2)}`);
  }
  const n = median(nimbo);
  const c = median(curl);
  console.log(`best of ${runs}: nimbo image fetch ${Math.min(...nimbo).toFixed(3)}s  curl -o ${Math.min(...curl).toFixed(3)}s  ratio ${(Math.min(...nimbo) / Math.min(...curl)).toFixed(2)}`);
  console.log(`median of ${runs}: nimbo image fetch ${n.toFixed(3)}s (${(disk.size / 1024 / 1024 / n).toFixed(0)} MiB/s, sha256-verified and qemu-img-checked)  curl -o ${c.toFixed(3)}s (${(disk.size / 1024 / 1024 / c).toFixed(0)} MiB/s)`);
  console.log(`ratio nimbo/curl ${(n / c).toFixed(2)} (target <= 1.2)`);
} finally {
  await Promise.all([a.cleanup(), b.cleanup()]);
  rmSync(tmp, { recursive: true, force: true });
}
