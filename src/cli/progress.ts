/** Following an Operation to its end while drawing progress on stderr. */
import type { Operation } from '../shared/api-types.js';
import { CliError } from './errors.js';

/** Where progress is drawn (process.stderr, or a fake in tests). */
export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** The one client call that following needs. */
export interface OperationWaiter {
  waitOperation(id: string, timeoutS?: number): Promise<Operation>;
}

/** Options of followOperation. */
export interface FollowOptions {
  /** Draw nothing. */
  quiet?: boolean;
  /** Defaults to process.stderr. */
  stream?: ProgressStream;
  /** Seconds per long-poll (default 2). */
  pollSeconds?: number;
  /** Give up after this many seconds in total (default: never). */
  timeoutS?: number;
  /** Keep retrying this long (ms) while the daemon is unreachable, e.g. restarting (default 30000). */
  retryUnreachableMs?: number;
  /** On Ctrl-C, say how to resume and exit 130 (default true). */
  detachOnInterrupt?: boolean;
}

/** Whether an operation has reached an end state. */
export function isDone(op: Operation): boolean {
  return op.status === 'success' || op.status === 'failure' || op.status === 'cancelled';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Draws one operation: a bar on a TTY, `progress NN%` lines otherwise, plus new log lines. */
export class ProgressView {
  private logged = 0;
  private lastPct = -1;
  private drawn = false;
  constructor(private readonly stream: ProgressStream, private readonly quiet = false) {}

  /** Show the operation's new log lines and its progress. */
  update(op: Operation): void {
    if (this.quiet) return;
    const log = op.log ?? [];
    if (log.length < this.logged) this.logged = 0;
    for (const line of log.slice(this.logged)) {
      this.clear();
      this.stream.write(`${line}\n`);
    }
    this.logged = log.length;
    const pct = Math.max(0, Math.min(100, Math.round(op.progress ?? 0)));
    if (this.stream.isTTY) {
      this.draw(op, pct);
    } else if (pct !== this.lastPct && op.status !== 'failure' && op.status !== 'cancelled') {
      this.stream.write(`progress ${pct}%\n`);
    }
    this.lastPct = pct;
  }

  /** Remove the bar from the terminal (no-op when none is drawn). */
  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }

  private draw(op: Operation, pct: number): void {
    const label = `${op.kind} ${op.target}`;
    const cols = this.stream.columns && this.stream.columns > 20 ? this.stream.columns : 80;
    const width = Math.max(10, Math.min(40, cols - label.length - 10));
    const full = Math.round((pct / 100) * width);
    const line = `${label} [${'#'.repeat(full)}${'-'.repeat(width - full)}] ${String(pct).padStart(3)}%`;
    this.stream.write(`\r\x1b[K${line.slice(0, cols - 1)}`);
    this.drawn = true;
  }
}

/**
 * Poll `/operations/{id}/wait` until the operation ends, drawing progress.
 * Resolves with the final Operation on success; throws a CliError with the operation's error otherwise.
 */
export async function followOperation(client: OperationWaiter, op: Operation, opts: FollowOptions = {}): Promise<Operation> {
  const stream = opts.stream ?? process.stderr;
  const view = new ProgressView(stream, opts.quiet);
  const poll = opts.pollSeconds ?? 2;
  const deadline = opts.timeoutS === undefined ? Infinity : Date.now() + opts.timeoutS * 1000;
  const retryMs = opts.retryUnreachableMs ?? 30_000;
  const onInterrupt = () => {
    view.clear();
    stream.write(`nimbo: detached; operation ${op.id} continues (see: nimbo operation wait ${op.id})\n`);
    process.exit(130);
  };
  if (opts.detachOnInterrupt ?? true) process.once('SIGINT', onInterrupt);
  let cur = op;
  let unreachableSince: number | undefined;
  try {
    view.update(cur);
    while (!isDone(cur)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new CliError(`operation ${cur.id} (${cur.kind} ${cur.target}) is still ${cur.status} after ${opts.timeoutS}s`, { kind: 'timeout' });
      }
      const waitS = Math.max(1, Math.min(poll, Math.ceil(left / 1000)));
      const started = Date.now();
      try {
        const next = await client.waitOperation(cur.id, waitS);
        unreachableSince = undefined;
        // Guard against a server that answers at once without waiting: do not spin.
        if (!isDone(next) && next.progress === cur.progress && Date.now() - started < 200) await sleep(500);
        cur = next;
      } catch (e) {
        if (!(e instanceof CliError) || e.kind !== 'unreachable') throw e;
        unreachableSince ??= Date.now();
        if (Date.now() - unreachableSince > retryMs) throw e;
        await sleep(1000);
        continue;
      }
      view.update(cur);
    }
  } finally {
    view.clear();
    process.removeListener('SIGINT', onInterrupt);
  }
  if (cur.status === 'failure') {
    throw new CliError(cur.error?.message || `${cur.kind} ${cur.target} failed (operation ${cur.id})`, { kind: 'operation', code: cur.error?.code });
  }
  if (cur.status === 'cancelled') {
    throw new CliError(`operation ${cur.id} (${cur.kind} ${cur.target}) was cancelled`, { kind: 'operation', code: 'Cancelled' });
  }
  return cur;
}
