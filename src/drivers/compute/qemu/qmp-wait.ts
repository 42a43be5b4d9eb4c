import { randomBytes } from 'node:crypto';
import { NimboError, type ErrorCode } from '../../../lib/errors.js';
import type { QmpClient, QmpEvent } from './qmp.js';

/** A wait for one QMP event, armed before the command that causes it (events can beat the reply). */
export interface EventWait {
  done: Promise<QmpEvent>;
  /** Stop waiting (the promise then never settles). */
  cancel(): void;
}

/** Start waiting for the first event that `match` accepts; rejects on timeout or when QMP closes. */
export function expectQmpEvent(qmp: QmpClient, match: (ev: QmpEvent) => boolean, timeoutMs: number, what: string): EventWait {
  let cleanup = () => {};
  const done = new Promise<QmpEvent>((resolve, reject) => {
    const onEvent = (ev: QmpEvent) => {
      if (!match(ev)) return;
      cleanup();
      resolve(ev);
    };
    const onClose = () => {
      cleanup();
      reject(new NimboError('Conflict', `QMP closed while waiting for ${what} (QEMU exited?)`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new NimboError('Timeout', `${what}: not within ${timeoutMs} ms`));
    }, timeoutMs);
    cleanup = () => {
      clearTimeout(timer);
      qmp.off('event', onEvent);
      qmp.off('close', onClose);
    };
    qmp.on('event', onEvent);
    qmp.once('close', onClose);
  });
  return { done, cancel: () => cleanup() };
}

/** A fresh QMP job id with a readable prefix. */
export const newJobId = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

interface JobInfo {
  id: string;
  type?: string;
  status: string;
  error?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function jobErrorCode(msg: string): ErrorCode {
  if (/already exists/i.test(msg)) return 'Conflict';
  if (/does not exist|not found|can't find|could not find/i.test(msg)) return 'NotFound';
  return 'HostCommandFailed';
}

/**
 * Run a QMP command that creates a job (`args['job-id']`), wait until it concludes
 * (JOB_STATUS_CHANGE, with query-jobs polling as a backstop), dismiss it, and throw
 * its error if it failed. `timeoutMs` covers the whole job.
 */
export async function runQmpJob(qmp: QmpClient, command: string, args: Record<string, unknown>, timeoutMs: number): Promise<void> {
  const jobId = String(args['job-id']);
  const deadline = Date.now() + timeoutMs;
  const concluded = expectQmpEvent(
    qmp,
    (ev) => ev.event === 'JOB_STATUS_CHANGE' && ev.data?.id === jobId && ev.data?.status === 'concluded',
    timeoutMs,
    `${command} job ${jobId}`,
  );
  concluded.done.catch(() => {}); // the loop below reports timeouts itself
  try {
    // snapshot-* jobs run in QEMU's main loop: the reply itself may only come once the job ran.
    await qmp.execute(command, args, { timeoutMs });
    for (;;) {
      const jobs = await qmp.execute<JobInfo[]>('query-jobs', undefined, { timeoutMs: Math.max(1000, deadline - Date.now()) });
      const job = jobs.find((j) => j.id === jobId);
      if (!job) throw new NimboError('Internal', `${command}: job ${jobId} vanished before it concluded`);
      if (job.status === 'concluded') {
        await qmp.execute('job-dismiss', { id: jobId });
        if (job.error !== undefined) throw new NimboError(jobErrorCode(job.error), `${command}: ${job.error}`, { command, jobId });
        return;
      }
      if (Date.now() >= deadline) {
        throw new NimboError('Timeout', `${command} job ${jobId} still ${job.status} after ${timeoutMs} ms`, { command, jobId });
      }
      await Promise.race([concluded.done.catch(() => {}), sleep(Math.min(1000, Math.max(1, deadline - Date.now())))]);
    }
  } finally {
    concluded.cancel();
  }
}
