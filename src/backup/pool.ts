// Bounded concurrency for the chunk pipelines: at most `n` tasks in flight, so memory stays at a few chunks.
import { NimboError } from '../lib/errors.js';

/** Run task(0..count-1) with at most `concurrency` at once; the first failure stops new tasks and is thrown. */
export async function runBounded(count: number, concurrency: number, task: (i: number) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  let failed: unknown = null;
  const worker = async () => {
    while (failed === null && next < count) {
      if (signal?.aborted) throw cancelled();
      const i = next++;
      try {
        await task(i);
      } catch (e) {
        failed ??= e;
        throw e;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
  const bad = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed !== null) throw failed;
  if (bad) throw bad.reason;
}

/** The error of a cancelled backup or restore. */
export const cancelled = () => new NimboError('Cancelled', 'the backup operation was cancelled');

/** Throw Cancelled if `signal` fired. */
export function checkSignal(signal?: AbortSignal): void {
  if (signal?.aborted) throw cancelled();
}
