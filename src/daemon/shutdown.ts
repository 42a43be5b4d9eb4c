/** Daemon shutdown with a bounded drain: SIGTERM always ends nimbod, even while a request or an operation hangs. */
import type { Logger } from '../lib/log.js';

/** True when `work` settles (either way) within `ms`, false when the time runs out first; never rejects. */
export async function settledWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([work.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The two halves of a shutdown. */
export interface ShutdownSteps {
  /** Stop taking work, then wait for in-flight requests and running operations. */
  drain(): Promise<void>;
  /** Release what the process holds (relays, database, pidfile); runs whether or not the drain finished. */
  release(): Promise<void>;
}

/** Longest wait for `release`; it only closes local handles. */
const RELEASE_MS = 5000;

/**
 * Drain for at most `timeoutMs`, then release. Returns whether the drain finished; operations cut short
 * are marked failed by the next daemon's recovery, and instances keep running either way.
 */
export async function shutdownWithin(steps: ShutdownSteps, timeoutMs: number, log: Logger): Promise<boolean> {
  const drain = steps.drain().catch((e: unknown) => log.error({ err: (e as Error).message }, 'shutdown: drain failed'));
  const drained = await settledWithin(drain, timeoutMs);
  if (!drained) log.warn({ timeoutMs }, 'shutdown: requests or operations still running at the drain timeout; stopping anyway');
  const release = steps.release().catch((e: unknown) => log.error({ err: (e as Error).message }, 'shutdown: release failed'));
  if (!(await settledWithin(release, RELEASE_MS))) log.warn('shutdown: releasing resources timed out');
  return drained;
}
