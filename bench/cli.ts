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

/** Median wall-clock milliseconds of running argv RUNS times. */
// Async: the fake daemon answers from this same process, so its event loop must keep running.
async function median(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const s = performance.now();
    await promisify(execFile)(argv[0]!, argv.slice(1), { env });
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)]!;
}

/** Measure and print one daemon's rows: the CLI commands, node, curl and the ratio. */
async function section(title: string, url: string, token: string, info: string): Promise<void> {
  const cli = cliFile();
  console.log(`== ${title}; CLI ${cli.slice(ROOT.length)}, ${RUNS} runs each`);
  const env = { PATH: process.env.PATH, NIMBO_URL: url, NIMBO_TOKEN: token };
  const auth = `authorization: Bearer ${token}`;
  const node = await median([process.execPath, '-e', '0'], env);
  const version = await median([process.execPath, cli, '--version'], env);
  const list = await median([process.execPath, cli, 'list'], env);
  const infoMs = await median([process.execPath, cli, 'info', info], env);
  const rows: [string, number, boolean][] = [
    ['node -e 0', node, false],
    ['nimbo --version', version, true],
    ['nimbo list (10)', list, true],
    ['nimbo info', infoMs, true],
    ['./nimbo list (launcher)', await median([join(ROOT, 'nimbo'), 'list'], env), false],
    ['main.js list (no bundle)', await median([process.execPath, MAIN, 'list'], env), false],
    ['curl GET /instances', await median(['curl', '-sf', '-H', auth, `${url}/api/v1/instances`], env), false],
    [`curl GET /instances/${info}`, await median(['curl', '-sf', '-H', auth, `${url}/api/v1/instances/${info}`], env), false],
  ];
  for (const [name, ms, target] of rows) {
    const verdict = target ? `  (target < ${TARGET_MS} ms: ${ms < TARGET_MS ? 'ok' : 'MISSED'})` : '';
    console.log(`${name.padEnd(28)} median ${ms.toFixed(1)} ms${verdict}`);
  }
  console.log(`ratio list/node ${(list / node).toFixed(2)} (target <= 2.0)`);
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
