import { isRevisionConflict, NimboError } from '../lib/errors.js';
import type { Store } from '../store/store.js';
import { keys } from '../store/keys.js';

/** Who holds a store lock: the operation, the daemon run that started it, and since when. */
export interface LockHolder {
  op: string;
  daemon: string;
  since: string;
}

/** A lock this daemon holds: its key and the revision it was created at (released only at that revision). */
export interface HeldLock {
  key: string;
  revision: number;
}

const PREFIX = keys.locks;
/** A waiter re-checks at least this often: another daemon's delete is not seen by this process's watch. */
const MAX_POLL_MS = 1000;

/** The store key of the lock on an operation target (an instance name, `volume/P/V`, `pool/P`). */
export const lockKey = keys.lock;

/**
 * Operation locks kept in the store (not in one daemon's memory): a lock is a key created only if absent
 * (expectRevision 0) and deleted when its operation ends, so two daemons on one store never run two
 * operations on one target at once.
 */
export class StoreLocks {
  constructor(private store: Store) {}

  /** Take the lock at `key`, waiting (watch + polling with backoff) while another operation holds it; Cancelled on abort. */
  async acquire(key: string, holder: LockHolder, signal?: AbortSignal): Promise<HeldLock> {
    for (let delay = 10; ; delay = Math.min(MAX_POLL_MS, delay * 2)) {
      if (signal?.aborted) throw new NimboError('Cancelled', 'cancelled before it started');
      try {
        return { key, revision: await this.store.put(key, holder, { expectRevision: 0 }) };
      } catch (e) {
        if (!isRevisionConflict(e)) throw e;
      }
      await this.released(key, delay, signal);
    }
  }

  /** Resolves when `key` is deleted in this process, after `ms`, or on abort, whichever comes first. */
  private released(key: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        unwatch();
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      const unwatch = this.store.watch(key, (ev) => ev.key === key && ev.type === 'delete' && done());
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Give a lock back; a lock someone else took over meanwhile (recovered as stale) is left alone. */
  async release(lock: HeldLock): Promise<void> {
    try {
      await this.store.delete(lock.key, { expectRevision: lock.revision });
    } catch (e) {
      if (!isRevisionConflict(e)) throw e;
    }
  }

  /** Drop the locks whose operation is not running any more (`isLive(op)` false); returns how many went. */
  async dropStale(isLive: (holder: LockHolder) => boolean | Promise<boolean>): Promise<string[]> {
    const dropped: string[] = [];
    for (const kv of await this.store.list<LockHolder>(PREFIX)) {
      if (await isLive(kv.value)) continue;
      await this.release({ key: kv.key, revision: kv.modRevision });
      dropped.push(kv.key);
    }
    return dropped;
  }

  /** Every lock held now (diagnostics and tests). */
  async list(): Promise<{ key: string; holder: LockHolder }[]> {
    return (await this.store.list<LockHolder>(PREFIX)).map((kv) => ({ key: kv.key, holder: kv.value }));
  }
}
