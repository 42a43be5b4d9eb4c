/**
 * CLI startup: median wall time of `nimbo --version`, `nimbo list` (10 instances) and `nimbo info`,
 * against `node -e 0` and curl of the same API call. The API is src/cli/fake-daemon.ts on loopback,
 * so this measures the client's own cost, not the daemon's.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { FakeDaemon, sampleInstance } from '../src/cli/fake-daemon.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const RUNS = Number(process.env.RUNS ?? 15);

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

const fake = new FakeDaemon();
await fake.start();
try {
  fake.instances = Array.from({ length: 10 }, (_, i) => sampleInstance({ name: `bench${i}`, state: 'stopped' }));
  const env = { PATH: process.env.PATH, NIMBO_URL: fake.url, NIMBO_TOKEN: fake.token };
  const node = await median([process.execPath, '-e', '0'], env);
  const auth = `authorization: Bearer ${fake.token}`;
  const rows: [string, number][] = [
    ['node -e 0', node],
    ['nimbo --version', await median([process.execPath, MAIN, '--version'], env)],
    ['nimbo list (10)', await median([process.execPath, MAIN, 'list'], env)],
    ['curl GET /instances', await median(['curl', '-sf', '-H', auth, `${fake.url}/api/v1/instances`], env)],
    ['nimbo info', await median([process.execPath, MAIN, 'info', 'bench0'], env)],
    ['curl GET /instances/bench0', await median(['curl', '-sf', '-H', auth, `${fake.url}/api/v1/instances/bench0`], env)],
  ];
  for (const [name, ms] of rows) console.log(`${name.padEnd(28)} median ${ms.toFixed(1)} ms`);
  console.log(`ratio list/node ${(rows[2]![1] / node).toFixed(2)} (target <= 2.0)`);
} finally {
  await fake.stop();
}
