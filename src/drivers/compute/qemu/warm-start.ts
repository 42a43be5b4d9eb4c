// The guest side of a warm start: once the restored VM runs, its guest agent runs the re-seed script
// (warm-reseed.ts) that gives it the instance's identity; the start fails (and is undone) if it cannot.
import { NimboError } from '../../../lib/errors.js';
import type { WarmStart } from '../instance-driver.js';
import { agentRun } from './guest-agent.js';
import { runPaths } from './run-paths.js';
import { identityFromSeed, renderReseedScript } from './warm-reseed.js';

/** How long the restored guest's agent may take to answer and run the script. */
const RESEED_TIMEOUT_MS = 60_000;

/** The agent is polled this often while the script runs: it takes a fraction of a second, and the launch waits on it. */
const RESEED_POLL_MS = 25;

/** Runs the re-seed script of `warm` in the restored guest of runDir through its agent; resolves with its milliseconds. */
export async function reseedWarmGuest(runDir: string, warm: WarmStart): Promise<number> {
  const t0 = Date.now();
  const script = renderReseedScript(identityFromSeed(warm.seed, warm.templateMacs, Date.now() / 1000, warm.readyMarker));
  const st = await agentRun(runPaths(runDir).qga, { path: '/bin/sh', args: ['-s'], input: Buffer.from(script) }, { timeoutMs: RESEED_TIMEOUT_MS, pollMs: RESEED_POLL_MS, maxPollMs: RESEED_POLL_MS, oneSession: true });
  if (st.exitCode !== 0) {
    throw new NimboError('Internal', `re-seeding the restored guest failed (exit ${st.exitCode ?? `signal ${st.signal}`}): ${st.stderr.toString('utf8').slice(0, 500)}`);
  }
  return Date.now() - t0;
}
