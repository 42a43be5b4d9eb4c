/**
 * bench/exec-stream: 1 GiB of exec output from a real application container, streamed through nimbo
 * (POST /instances/{name}/exec?stream=1, frames decoded here) and read from `runc exec` directly, in
 * the same run, interleaved; prints the throughput of both, their ratio and the daemon's RSS growth
 * while it streams (the bound: < 32 MiB). Needs root, runc and umoci (run: npm run bench:exec-stream).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FrameDecoder } from '../src/shared/exec-frames.js';
import { TestDaemon } from '../test/system/harness.js';
import { busyboxLayout, removeDir, rssOf } from '../test/system/busybox-app.js';
import { runArgv } from '../src/host/exec.js';

const SIZE = Number(process.env.BYTES ?? 1024 * 1024 * 1024);
const RUNS = Number(process.env.RUNS ?? 2);
const MiB = 1024 * 1024;
const cmd = (bytes: number) => ['sh', '-c', `yes 0123456789abcdef | head -c ${bytes}`];

/** Stream through the daemon; bytes of stdout received and the daemon's peak RSS meanwhile. */
async function viaNimbo(d: TestDaemon, size = SIZE): Promise<{ s: number; bytes: number; peak: number }> {
  let peak = rssOf(d.proc!.pid!);
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(d.proc!.pid!))), 20);
  const t0 = performance.now();
  const res = await fetch(`${d.url}/api/v1/instances/bench/exec?stream=1`, {
    method: 'POST',
    headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ command: cmd(size), timeout: 3600 }),
  });
  if (res.status !== 200) throw new Error(`exec stream: HTTP ${res.status} ${await res.text()}`);
  let bytes = 0;
  let code = -1;
  const dec = new FrameDecoder({ stdout: (b) => (bytes += b.length), stderr: () => {}, exit: (c) => (code = c) });
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) dec.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  const s = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  if (code !== 0) throw new Error(`exec ended with ${code}`);
  return { s, bytes, peak };
}

/** The same command through `runc exec` directly, its stdout read by this process. */
async function viaRunc(root: string, id: string): Promise<{ s: number; bytes: number }> {
  const t0 = performance.now();
  const p = spawn('runc', ['--root', root, 'exec', id, ...cmd(SIZE)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let bytes = 0;
  p.stdout.on('data', (b: Buffer) => (bytes += b.length));
  const code = await new Promise<number | null>((r) => p.on('close', r));
  if (code !== 0) throw new Error(`runc exec ended with ${code}`);
  return { s: (performance.now() - t0) / 1000, bytes };
}

const d = await TestDaemon.start();
let work: string | undefined;
try {
  work = await busyboxLayout();
  for (const args of [['image', 'import', join(work, 'layout'), '--name', 'bb', '--quiet'], ['launch', 'bb', 'bench', '--app', '--memory', '256MiB', '--quiet']]) {
    const r = await d.cli(...args);
    if (r.code !== 0) throw new Error(`nimbo ${args.join(' ')}: ${r.stderr}`);
  }
  const root = join(d.stateDir, 'run', 'runc');
  const id = await d.runtimeIdOf('bench');
  // Warm both paths before timing: runc (binary, page cache) and the daemon (JIT, V8's young
  // generation and malloc arenas settle at their working size on the first streamed bytes).
  const cold = rssOf(d.proc!.pid!);
  await runArgv(['runc', '--root', root, 'exec', id, 'sh', '-c', 'exit 0']);
  const warm = await viaNimbo(d, 64 * MiB);
  const base = rssOf(d.proc!.pid!);
  const nimbo: number[] = [];
  const raw: number[] = [];
  let peak = base;
  for (let i = 0; i < RUNS; i++) {
    const n = await viaNimbo(d);
    if (n.bytes !== SIZE) throw new Error(`nimbo delivered ${n.bytes} of ${SIZE} bytes`);
    nimbo.push(SIZE / MiB / n.s);
    peak = Math.max(peak, n.peak);
    const r = await viaRunc(root, id);
    if (r.bytes !== SIZE) throw new Error(`runc delivered ${r.bytes} of ${SIZE} bytes`);
    raw.push(SIZE / MiB / r.s);
  }
  const best = (xs: number[]) => Math.max(...xs);
  const grew = (peak - base) / MiB;
  console.log(`exec-stream: ${(SIZE / MiB).toFixed(0)} MiB of output, ${RUNS} runs each, interleaved`);
  console.log(`nimbo (POST exec?stream=1): ${best(nimbo).toFixed(0)} MiB/s (runs: ${nimbo.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`raw (runc exec):            ${best(raw).toFixed(0)} MiB/s (runs: ${raw.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`ratio nimbo/raw: ${(best(nimbo) / best(raw)).toFixed(2)}`);
  console.log(`daemon RSS: ${(cold / MiB).toFixed(1)} MiB idle, ${(base / MiB).toFixed(1)} MiB after a 64 MiB warm-up stream (peak ${(warm.peak / MiB).toFixed(1)} MiB), peak ${(peak / MiB).toFixed(1)} MiB while streaming`);
  console.log(`daemon RSS growth while streaming ${(SIZE / MiB).toFixed(0)} MiB x ${RUNS}: ${grew.toFixed(1)} MiB over the warmed daemon (bound < 32 MiB: ${grew < 32 ? 'PASS' : 'FAIL'}); ${((peak - cold) / MiB).toFixed(1)} MiB over the idle one`);
  if (grew >= 32) process.exitCode = 1;
} finally {
  await d.cleanup();
  removeDir(work);
}
