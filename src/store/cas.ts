import { conflict, isRevisionConflict } from '../lib/errors.js';
import type { Store } from './store.js';

/** A value with the revision it was read or written at (the key's modRevision). */
export interface Versioned<T> {
  value: T;
  version: number;
}

/** How hard casUpdate tries before it gives up. */
export interface CasOptions {
  /** Tries in all (default 20). */
  attempts?: number;
  /** First backoff in ms; doubles per try, jittered, capped at 100 ms (default 2). */
  baseDelayMs?: number;
}

const MAX_DELAY_MS = 100;

/**
 * Read `key`, compute its new value with `fn`, write it only if nobody wrote the key meanwhile (expectRevision),
 * and start over with a fresh read when someone did. `fn` sees the current value (undefined: no key) and runs again
 * on each try, so it must not have side effects; it returns undefined to write nothing, and may throw a domain
 * error (never retried). After `attempts` lost races it gives up with a Conflict.
 */
export async function casUpdate<T>(
  store: Store,
  key: string,
  fn: (cur: T | undefined) => T | undefined | Promise<T | undefined>,
  opts: CasOptions = {},
): Promise<Versioned<T> | undefined> {
  const attempts = opts.attempts ?? 20;
  const base = opts.baseDelayMs ?? 2;
  for (let i = 0; i < attempts; i++) {
    const kv = await store.get<T>(key);
    const next = await fn(kv?.value);
    if (next === undefined) return kv ? { value: kv.value, version: kv.modRevision } : undefined;
    try {
      const version = await store.put(key, next, { expectRevision: kv?.modRevision ?? 0 });
      return { value: next, version };
    } catch (e) {
      if (!isRevisionConflict(e)) throw e;
    }
    // Jittered exponential backoff, so the losers of one round do not collide again in the next.
    await new Promise((r) => setTimeout(r, Math.random() * Math.min(MAX_DELAY_MS, base * 2 ** i)));
  }
  throw conflict(`${key} is being changed by others too often: gave up after ${attempts} tries`);
}
