import { randomUUID } from 'node:crypto';
import type { Operation } from '../shared/api-types.js';
import type { Store } from '../store/store.js';
import { asNimboError, NimboError, notFound } from '../lib/errors.js';
import type { EventBus } from './events.js';
import type { Logger } from '../lib/log.js';
import { DEFAULT_HISTORY, byNewest, pageOf, prunable, type HistoryLimits } from './operation-history.js';
import { lockKey, StoreLocks, type HeldLock } from './locks.js';
import { keys } from '../store/keys.js';

/** What an operation's body gets: progress, log lines and the cancel signal. */
export interface OpContext {
  readonly id: string;
  readonly signal: AbortSignal;
  progress(pct: number, message?: string): void;
  log(line: string): void;
  /** Throws Cancelled if the operation was cancelled. */
  checkCancelled(): void;
}

const KEY = keys.operation;
const MAX_LOG = 200;
/** Prune the history once this many operations ended since the last prune (a prune lists them all). */
const PRUNE_EVERY = 20;

/** Options of OperationManager.start. */
export interface StartOptions {
  /** Targets to lock besides the operation's own (e.g. `volume/P/V` for an attach); taken in sorted order. */
  locks?: string[];
  /** Lock this instead of the target (instances lock `instance/<uuid>`: a name is only what the operation shows). */
  lockAs?: string;
  /** Runs when the body never ran (cancelled while it waited for its locks): give back what the request reserved. */
  notRun?: () => Promise<unknown>;
  /** The project of the target (recorded on the operation and its events); absent: a platform operation (a pool). */
  project?: string;
}

/**
 * Runs long actions as Operations: recorded in the store, serialized per target by locks kept in the store
 * (`/locks/<target>`, so two daemons on one store serialize too), cancellable.
 */
export class OperationManager {
  private live = new Map<string, { op: Operation; ctrl: AbortController; done: Promise<void> }>();
  /** In-process FIFO per lock (the fast path, keeps order); the store lock is the truth across daemons. */
  private chains = new Map<string, Promise<unknown>>();
  private endedSincePrune = 0;
  private pruning?: Promise<void>;
  private locks: StoreLocks;
  private enders: ((op: Operation, seconds: number) => void)[] = [];
  /** This daemon run, written into the locks it holds. */
  readonly daemonId = randomUUID();

  constructor(private store: Store, private events: EventBus, private log: Logger, private readonly history: HistoryLimits = DEFAULT_HISTORY) {
    this.locks = new StoreLocks(store);
  }

  /** Marks operations left running by a previous daemon as failed and drops the locks they held. */
  async recover(): Promise<void> {
    for (const kv of await this.store.list<Operation>(keys.operations)) {
      if ((kv.value.status === 'running' || kv.value.status === 'pending') && !this.live.has(kv.value.id)) {
        const op = { ...kv.value, status: 'failure' as const, error: { code: 'Internal', message: 'the daemon stopped while this operation ran' }, updatedAt: new Date().toISOString() };
        await this.store.put(kv.key, op);
      }
    }
    // A lock is stale once its operation is no longer running (or gone): nobody is left to release it.
    const stale = await this.locks.dropStale(async (h) => {
      if (this.live.has(h.op)) return true;
      const st = (await this.store.get<Operation>(KEY(h.op)))?.value.status;
      return st === 'running' || st === 'pending';
    });
    if (stale.length) this.log.info({ locks: stale }, 'dropped operation locks left by a stopped daemon');
    await this.prune();
  }

  /** Start `body` as an operation on `target`; bodies that share a target (or a lock) run one after another. */
  async start(kind: string, target: string, body: (ctx: OpContext) => Promise<unknown>, opts: StartOptions = {}): Promise<Operation> {
    const now = new Date().toISOString();
    const op: Operation = { id: randomUUID(), kind, target, ...(opts.project !== undefined ? { project: opts.project } : {}), status: 'pending', progress: 0, log: [], createdAt: now, updatedAt: now };
    await this.save(op);
    const ctrl = new AbortController();
    const targets = [...new Set([opts.lockAs ?? target, ...(opts.locks ?? [])])].sort();
    const prev = Promise.all(targets.map((t) => (this.chains.get(t) ?? Promise.resolve()).catch(() => {})));
    const done = prev.then(() => this.execute(op, ctrl, targets, body, opts.notRun));
    for (const t of targets) this.chains.set(t, done);
    void done.finally(() => {
      for (const t of targets) if (this.chains.get(t) === done) this.chains.delete(t);
      this.live.delete(op.id);
    });
    this.live.set(op.id, { op, ctrl, done });
    return { ...op };
  }

  private async execute(op: Operation, ctrl: AbortController, targets: string[], body: (ctx: OpContext) => Promise<unknown>, notRun?: () => Promise<unknown>): Promise<void> {
    const held: HeldLock[] = [];
    try {
      for (const t of targets) held.push(await this.locks.acquire(lockKey(t), { op: op.id, daemon: this.daemonId, since: new Date().toISOString() }, ctrl.signal));
    } catch (e) {
      await this.releaseAll(held);
      return this.skip(op, ctrl.signal.aborted ? undefined : asNimboError(e), notRun);
    }
    try {
      if (ctrl.signal.aborted) return await this.skip(op, undefined, notRun);
      await this.run(op, ctrl, body);
    } finally {
      await this.releaseAll(held);
    }
  }

  /** End an operation whose body never ran: cancelled (no error) or failed taking its locks; `notRun` undoes its reservations. */
  private async skip(op: Operation, err: NimboError | undefined, notRun?: () => Promise<unknown>): Promise<void> {
    await notRun?.().catch((e: unknown) => this.log.warn({ op: op.id, err: String(e) }, 'undoing a reservation of an operation that never ran failed'));
    if (!err) return this.finish(op, 'cancelled', { code: 'Cancelled', message: 'cancelled before it started' });
    return this.finish(op, 'failure', { code: err.code, message: err.message });
  }

  private async releaseAll(held: HeldLock[]): Promise<void> {
    for (const l of held.reverse()) await this.locks.release(l).catch((e: unknown) => this.log.warn({ lock: l.key, err: String(e) }, 'releasing an operation lock failed'));
  }

  private async run(op: Operation, ctrl: AbortController, body: (ctx: OpContext) => Promise<unknown>): Promise<void> {
    op.status = 'running';
    await this.save(op);
    const began = Date.now();
    const ctx: OpContext = {
      id: op.id,
      signal: ctrl.signal,
      progress: (pct, message) => {
        op.progress = Math.max(op.progress, Math.min(100, Math.round(pct)));
        if (message) pushLog(op, message);
        this.log.debug({ op: op.id, kind: op.kind, target: op.target, pct, ms: Date.now() - began }, message ?? 'progress');
        void this.save(op);
      },
      log: (line) => {
        pushLog(op, line);
        void this.save(op);
      },
      checkCancelled: () => {
        if (ctrl.signal.aborted) throw new NimboError('Cancelled', 'operation cancelled');
      },
    };
    try {
      const result = await body(ctx);
      if (result !== undefined) op.result = result;
      op.progress = 100;
      await this.finish(op, 'success');
    } catch (e) {
      const err = asNimboError(e);
      const cancelled = ctrl.signal.aborted || err.code === 'Cancelled';
      this.log.warn({ op: op.id, kind: op.kind, target: op.target, err: err.message, detail: err.detail }, 'operation failed');
      await this.finish(op, cancelled ? 'cancelled' : 'failure', { code: cancelled ? 'Cancelled' : err.code, message: err.message });
    }
  }

  /** Call `cb` (synchronously, errors ignored) when an operation ends, with its seconds from creation to end (the metrics). */
  onEnded(cb: (op: Operation, seconds: number) => void): void {
    this.enders.push(cb);
  }

  private async finish(op: Operation, status: Operation['status'], error?: Operation['error']): Promise<void> {
    op.status = status;
    if (error) op.error = error;
    await this.save(op);
    const seconds = (Date.parse(op.updatedAt) - Date.parse(op.createdAt)) / 1000;
    for (const cb of this.enders) {
      try {
        cb(op, seconds);
      } catch {
        /* a listener never fails an operation */
      }
    }
    if (++this.endedSincePrune >= PRUNE_EVERY) void this.prune().catch((e: unknown) => this.log.warn({ err: String(e) }, 'pruning operations failed'));
  }

  private async save(op: Operation): Promise<void> {
    op.updatedAt = new Date().toISOString();
    await this.store.put(KEY(op.id), op);
    this.events.publish('operation', op.target, { ...op, log: op.log.slice(-1) }, op.project);
  }

  /** One operation by id. */
  async get(id: string): Promise<Operation> {
    const kv = await this.store.get<Operation>(KEY(id));
    if (!kv) throw notFound(`operation ${id}`);
    return kv.value;
  }

  /** All operations, newest first. */
  async list(): Promise<Operation[]> {
    const ops = (await this.store.list<Operation>(keys.operations)).map((k) => k.value);
    return ops.sort(byNewest);
  }

  /** One page of operations, newest first (limit: default 100, at most 1000; after: the previous page's `next`). */
  async page(limit?: number, after?: string): Promise<{ operations: Operation[]; next?: string }> {
    return pageOf(await this.list(), limit, after);
  }

  /** Wait until the operation ends or `timeoutMs` passes; returns its latest record. */
  async wait(id: string, timeoutMs: number): Promise<Operation> {
    const live = this.live.get(id);
    if (live) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([live.done, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    return this.get(id);
  }

  /** Ask a running operation to stop; its body sees the abort signal. */
  async cancel(id: string): Promise<Operation> {
    const live = this.live.get(id);
    if (!live) {
      const op = await this.get(id);
      if (op.status === 'pending' || op.status === 'running') throw new NimboError('Conflict', 'operation is not running in this daemon');
      return op;
    }
    live.ctrl.abort();
    return this.get(id);
  }

  /** Resolves once every running operation ended (daemon shutdown, tests). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.live.values()].map((l) => l.done));
  }

  /** Forget finished operations beyond the history limits (one prune at a time; running ones are kept). */
  prune(): Promise<void> {
    this.pruning ??= (async () => {
      this.endedSincePrune = 0;
      const live = new Set(this.live.keys());
      for (const id of prunable(await this.list(), this.history)) if (!live.has(id)) await this.store.delete(KEY(id));
    })().finally(() => (this.pruning = undefined));
    return this.pruning;
  }
}

function pushLog(op: Operation, line: string): void {
  op.log.push(line);
  if (op.log.length > MAX_LOG) op.log.splice(0, op.log.length - MAX_LOG);
}
