/**
 * CLI startup: median wall time of `nimbo --version`, `nimbo list` (10 instances) and `nimbo info`, against
 * `node -e 0` and curl of the same API call. First against src/cli/fake-daemon.ts on loopback (the client's own
 * cost), then, as root, against a real nimbod with 10 stopped VMs (a per-run prefix and state dir, removed after).
 * The CLI measured is the one ./nimbo runs: the bundle dist/src/cli/nimbo.cjs when it is fresh, else main.js.
 */
import { execFile } from 'node:child_process';
import { statSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { FakeDaemon, sampleInstance } from '../src/cli/fake-daemon.js';
import { runArgv } from '../src/host/exec.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'dist/src/cli/main.js');
const BUNDLE = join(ROOT, 'dist/src/cli/nimbo.cjs');
const RUNS = Number(process.env.RUNS ?? 15);
/** The startup target of issue 9, per command. */
const TARGET_MS = 120;

/** The file ./nimbo runs (the same test as the launcher's). */
function cliFile(): string {
  try {
    return statSync(BUNDLE).mtimeMs > statSync(MAIN).mtimeMs ? BUNDLE : MAIN;
  } catch {
    return MAIN;
  }
}

/** Median wall-clock milliseconds of each argv, run RUNS times in turn (interleaved, so load changes hit all alike). */
// Async: the fake daemon answers from this same process, so its event loop must keep running.
async function medians(argvs: string[][], env: NodeJS.ProcessEnv): Promise<number[]> {
  const t: number[][] = argvs.map(() => []);
  for (let i = 0; i < RUNS; i++) {
    for (const [k, argv] of argvs.entries()) {
      const s = performance.now();
      await promisify(execFile)(argv[0]!, argv.slice(1), { env });
      t[k]!.push(performance.now() - s);
    }
  }
  return t.map((x) => x.sort((a, b) => a - b)[Math.floor(x.length / 2)]!);
}

/** Measure and print one daemon's rows: the CLI commands, node, curl and the ratio. */
async function section(title: string, url: string, token: string, info: string): Promise<void> {
  const cli = cliFile();
  console.log(`== ${title}; CLI ${cli.slice(ROOT.length)}, ${RUNS} runs each, interleaved`);
  const env = { PATH: process.env.PATH, NIMBO_URL: url, NIMBO_TOKEN: token };
  const auth = `authorization: Bearer ${token}`;
  const plan: [string, string[], boolean][] = [
    ['node -e 0', [process.execPath, '-e', '0'], false],
    ['nimbo --version', [process.execPath, cli, '--version'], true],
    ['nimbo list (10)', [process.execPath, cli, 'list'], true],
    ['nimbo info', [process.execPath, cli, 'info', info], true],
    ['./nimbo list (launcher)', [join(ROOT, 'nimbo'), 'list'], false],
    ['main.js list (no bundle)', [process.execPath, MAIN, 'list'], false],
    ['curl GET /instances', ['curl', '-sf', '-H', auth, `${url}/api/v1/instances`], false],
    [`curl GET /instances/${info}`, ['curl', '-sf', '-H', auth, `${url}/api/v1/instances/${info}`], false],
  ];
  const ms = await medians(plan.map((p) => p[1]), env);
  for (const [k, [name, , target]] of plan.entries()) {
    const verdict = target ? `  (target < ${TARGET_MS} ms: ${ms[k]! < TARGET_MS ? 'ok' : 'MISSED'})` : '';
    console.log(`${name.padEnd(28)} median ${ms[k]!.toFixed(1)} ms${verdict}`);
  }
  console.log(`ratio list/node ${(ms[2]! / ms[0]!).toFixed(2)} (target <= 2.0)`);
}

const fake = new FakeDaemon();
await fake.start();
try {
  fake.instances = Array.from({ length: 10 }, (_, i) => sampleInstance({ name: `bench${i}`, state: 'stopped' }));
  await section('fake daemon (src/cli/fake-daemon.ts)', fake.url, fake.token, 'bench0');
} finally {
  await fake.stop();
}

if (process.getuid?.() !== 0) {
  console.log('== real nimbod: skipped (needs root: bridges, nftables)');
} else {
  await realDaemon();
}

/** The same rows against a real nimbod with 10 stopped VMs made from a blank imported image (nothing boots). */
async function realDaemon(): Promise<void> {
  const { TestDaemon } = await import('../test/system/harness.js');
  const d = await TestDaemon.start();
  const tmp = mkdtempSync(join(tmpdir(), `nimbo-bench-${d.prefix}-`));
  try {
    const blank = join(tmp, 'blank.qcow2');
    await runArgv(['qemu-img', 'create', '-q', '-f', 'qcow2', blank, '64M']);
    const imp = await d.cli('image', 'import', blank, '--name', 'blank', '--quiet');
    if (imp.code !== 0) throw new Error(`image import failed: ${imp.stderr}`);
    await inTurn(d, (i) => d.api('POST', '/instances', { name: `bench${i}`, image: 'blank', start: false }));
    await section(`real nimbod (prefix ${d.prefix}, 10 stopped VMs)`, d.url, d.token, 'bench0');
    await inTurn(d, (i) => d.api('DELETE', `/instances/bench${i}`));
  } finally {
    await d.cleanup();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Run 10 requests that start operations, one after another, each waited for. */
async function inTurn(d: { api(m: string, p: string): Promise<{ status: number; body: any }> }, start: (i: number) => Promise<{ status: number; body: any }>): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const r = await start(i);
    if (r.status !== 202) throw new Error(`request ${i} answered ${r.status}: ${JSON.stringify(r.body)}`);
    const w = await d.api('GET', `/operations/${r.body.operation.id}/wait?timeout=120`);
    if (w.body.status !== 'success') throw new Error(`operation ${i} ended ${w.body.status}: ${JSON.stringify(w.body.error)}`);
  }
}
