import { stat } from 'node:fs/promises';
import type { HostExec } from '../../host/exec.js';
import type { ProgressFn } from './types.js';

/** What runTransfer copies and how progress is reported. */
export interface TransferJob {
  argv: string[];
  /** File being written; its allocated size against expectedBytes gives the progress. */
  target: string;
  expectedBytes: number;
  message: string;
  progress?: ProgressFn;
  signal?: AbortSignal;
  /** Progress range this job maps onto (default 1..99; the caller reports 100 when published). */
  from?: number;
  to?: number;
  pollMs?: number;
}

/** Map written bytes to a percentage in [from, to]. */
export function progressPercent(written: number, expected: number, from: number, to: number): number {
  const frac = expected > 0 ? Math.min(1, Math.max(0, written / expected)) : 0;
  return Math.floor(from + frac * (to - from));
}

/**
 * Run a copying command (qemu-img convert, cp) and report progress by polling the target's
 * allocated bytes (HostExec collects output only at exit, so qemu-img's own -p output cannot
 * be streamed). The command is killed when signal aborts.
 */
export async function runTransfer(exec: HostExec, job: TransferJob): Promise<void> {
  const from = job.from ?? 1;
  const to = job.to ?? 99;
  const progress = job.progress ?? (() => {});
  let live = true;
  let last = -1;
  const report = (p: number) => {
    if (live && p > last) {
      last = p;
      progress(p, job.message);
    }
  };
  report(from);
  const timer = setInterval(() => {
    void stat(job.target).then(
      (s) => report(progressPercent(s.blocks * 512, job.expectedBytes, from, to)),
      () => {},
    );
  }, job.pollMs ?? 500);
  try {
    await exec.run(job.argv, { timeoutMs: 6 * 3600_000, signal: job.signal });
    report(to);
  } finally {
    live = false;
    clearInterval(timer);
  }
}
