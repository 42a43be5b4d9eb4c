/**
 * bench/console-latency: serial console keystroke echo latency of a tiny VM at its shell prompt, through the
 * panel's path (a ticket from POST /auth/ticket, then nimbod's /instances/{name}/console WebSocket, as the
 * browser's xterm.js does it) and through socat on QEMU's serial socket directly. One character at a time,
 * timed until its echo arrives; N per round and path; prints p50 and p99 of both and their ratios.
 *
 * Fairness: QEMU's serial socket takes one client and nimbod's relay holds it while the VM runs. So the
 * direct path runs the exact argv nimbod ran (from /proc/PID/cmdline, minus -S) by hand, after the
 * instance was stopped: the same QEMU binary, machine, guest, run dir and socket, with socat as its one
 * client. Rounds alternate the two paths, so drifting load on the host hits both.
 * Needs root, qemu and socat (run: npm run bench:console-latency).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { TestDaemon, processAlive, sleep } from '../test/system/harness.js';
import { runArgv } from '../src/host/exec.js';

const N = Number(process.env.KEYS ?? 200);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
// Enough keys for V8 to optimise the daemon's relay path (socat has nothing to warm).
const WARMUP = Number(process.env.WARMUP ?? 100);
// The shell's prompt ends in "# ", maybe followed by the line editor's terminal queries (ESC [ 6 n).
const PROMPT = /# (\x1b\[[0-9;]*[A-Za-z])*$/;

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

/** A console as the bench sees it: send bytes, and the text that came since the last clear. */
class Console {
  private text = '';
  private waiter?: () => void;
  constructor(readonly send: (b: string) => void) {}
  /** Feed what the console printed. */
  push(b: Buffer): void {
    this.text += b.toString('latin1');
    this.waiter?.();
  }
  /** Wait until what came since the last clear matches `re`. */
  async until(re: RegExp, timeoutMs = 30_000): Promise<void> {
    const t0 = performance.now();
    while (!re.test(this.text)) {
      if (performance.now() - t0 > timeoutMs) throw new Error(`console: no ${re} within ${timeoutMs} ms; got ${JSON.stringify(this.text.slice(-200))}`);
      await new Promise<void>((ok) => {
        this.waiter = ok;
        setTimeout(ok, 50);
      });
      this.waiter = undefined;
    }
  }
  clear(): void {
    this.text = '';
  }
  /** At a fresh prompt: Enter until one shows (the guest may still be booting). */
  async prompt(timeoutMs = 120_000): Promise<void> {
    const t0 = performance.now();
    for (;;) {
      this.clear();
      this.send('\r');
      try {
        await this.until(PROMPT, 2000);
        await sleep(100); // let a late redraw pass
        this.clear();
        return;
      } catch (e) {
        if (performance.now() - t0 > timeoutMs) throw e;
      }
    }
  }
  /** Echo latencies (ms) of `n` keystrokes ('#': a comment to the shell when Enter ends the line). */
  async keystrokes(n: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      if (i % 40 === 0) await this.prompt();
      this.clear();
      const t0 = performance.now();
      this.send('#');
      await this.until(/#/, 10_000);
      out.push(performance.now() - t0);
    }
    return out;
  }
}

/** nimbod's console WebSocket, opened with an instance ticket like the panel. */
async function viaNimbo(d: TestDaemon, name: string): Promise<number[]> {
  const t = await d.api('POST', '/auth/ticket', { instance: name });
  if (t.status !== 201) throw new Error(`ticket: ${JSON.stringify(t.body)}`);
  const ws = new WebSocket(`${d.url.replace('http', 'ws')}/api/v1/instances/${name}/console?ticket=${t.body.ticket}`);
  await new Promise((ok, fail) => {
    ws.once('open', ok);
    ws.once('error', fail);
  });
  const c = new Console((s) => ws.send(Buffer.from(s, 'latin1')));
  ws.on('message', (b: Buffer) => c.push(b));
  try {
    await sleep(300); // the log's tail comes first
    await c.keystrokes(WARMUP);
    return await c.keystrokes(N);
  } finally {
    ws.close();
  }
}

/** socat on the serial socket of a QEMU run by hand. */
async function viaSocat(socket: string): Promise<number[]> {
  const p = spawn('socat', ['-', `UNIX-CONNECT:${socket}`], { stdio: ['pipe', 'pipe', 'inherit'] });
  let done = false;
  p.on('exit', (code) => !done && console.error(`socat exited early (${code})`));
  const c = new Console((s) => p.stdin.write(s));
  p.stdout.on('data', (b: Buffer) => c.push(b));
  try {
    await c.keystrokes(WARMUP);
    return await c.keystrokes(N);
  } finally {
    done = true;
    p.kill();
  }
}

async function op(d: TestDaemon, res: { status: number; body: { operation?: { id: string } } }) {
  if (!res.body.operation) throw new Error(`no operation: ${JSON.stringify(res.body)}`);
  const r = await d.api('GET', `/operations/${res.body.operation.id}/wait?timeout=180`);
  if (r.body.status !== 'success') throw new Error(`operation failed: ${JSON.stringify(r.body.error)}`);
}

const d = await TestDaemon.start();
try {
  const built = await d.cli('image', 'build', 'tiny', '--quiet');
  if (built.code !== 0) throw new Error(built.stderr);
  const name = 'lat';
  await op(d, await d.api('POST', '/instances', { name, image: 'tiny', memory: '256MiB', cpus: 1 }));
  await d.waitConsole(name, new RegExp(`NIMBO-READY ${name}`));
  const runDir = await d.runDirOf(name);
  const nimbo: number[] = [];
  const raw: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // (Later rounds boot it again; the first keystrokes wait for the prompt.)
    if (round > 0) await op(d, await d.api('POST', `/instances/${name}/start`, {}));
    const n = await viaNimbo(d, name);
    nimbo.push(...n);
    const info = (await d.api('GET', `/instances/${name}`)).body as { pid: number };
    // The exact argv nimbod ran, minus -S (nimbod starts QEMU paused until its console relay is attached).
    const argv = readFileSync(`/proc/${info.pid}/cmdline`, 'utf8').split('\0').filter(Boolean).filter((a) => a !== '-S');
    await op(d, await d.api('POST', `/instances/${name}/stop`, { force: true }));
    await runArgv(argv); // -daemonize: back once QEMU is up
    const r = await viaSocat(join(runDir, 'serial.sock')).catch(async (e: Error) => {
      const ss = await runArgv(['ss', '-xp'], { allowFailure: true });
      console.error(`${e.message}\nwho holds ${runDir}/serial.sock:\n${ss.stdout.split('\n').filter((l) => l.includes(runDir)).join('\n')}`);
      throw e;
    });
    raw.push(...r);
    const pid = Number(readFileSync(join(runDir, 'qemu.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    while (processAlive(pid)) await sleep(20);
    console.log(`round ${round + 1}: nimbo p50 ${pct(n, 50).toFixed(2)} ms p99 ${pct(n, 99).toFixed(2)} ms | socat p50 ${pct(r, 50).toFixed(2)} ms p99 ${pct(r, 99).toFixed(2)} ms`);
  }
  const line = (what: string, xs: number[]) => `console-latency: ${what} p50 ${pct(xs, 50).toFixed(2)} ms p99 ${pct(xs, 99).toFixed(2)} ms (${xs.length} keystrokes)`;
  console.log('console-latency: method: tiny VM (TCG, 1 vCPU) at its shell prompt, one "#" at a time until its echo; socat runs on the serial socket of the same QEMU argv started by hand after nimbod stopped the VM (the socket takes one client, which nimbod\'s relay holds while the VM runs); rounds alternate');
  console.log(line('nimbo WebSocket (ticket, /console)', nimbo));
  console.log(line('socat on serial.sock', raw));
  console.log(`console-latency: ratio p50 ${(pct(nimbo, 50) / pct(raw, 50)).toFixed(2)} p99 ${(pct(nimbo, 99) / pct(raw, 99)).toFixed(2)} (target <= 1.2)`);
} finally {
  await d.cleanup();
}
