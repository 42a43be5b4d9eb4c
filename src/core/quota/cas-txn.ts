// Compare-and-swap over several keys at once: every key the builder reads is compared at the revision it
// was read at, and its writes are applied in one store transaction only if none of them changed. A lost
// race starts over with fresh reads (the builder runs again), like casUpdate does for one key.
import { conflict } from '../../lib/errors.js';
import type { Compare, Store, TxnOp } from '../../store/store.js';

/** Reads a key inside a transaction builder (the read is remembered and compared at commit). */
export type TxnRead = <T>(key: string) => Promise<T | undefined>;

const MAX_DELAY_MS = 50;

/**
 * Run `build` with a reader, then commit its ops if no key it read has changed meanwhile (absent keys must
 * still be absent). `build` must have no side effects: it runs again after a lost race, and may throw a
 * domain error (never retried). Returns build's result of the winning try.
 */
export async function casTxn<R>(store: Store, build: (read: TxnRead) => Promise<{ ops: TxnOp[]; result: R }>, attempts = 200): Promise<R> {
  for (let i = 0; i < attempts; i++) {
    const compares = new Map<string, Compare>();
    const read: TxnRead = async <T>(key: string) => {
      const kv = await store.get<T>(key);
      if (!compares.has(key)) compares.set(key, { key, modRevision: kv?.modRevision ?? 0 });
      return kv?.value;
    };
    const { ops, result } = await build(read);
    if (await store.txn([...compares.values()], ops)) return result;
    // Jittered backoff, so the losers of one round do not collide again in the next.
    await new Promise((r) => setTimeout(r, Math.random() * Math.min(MAX_DELAY_MS, 1 + i)));
  }
  throw conflict(`the store is being changed by others too often: gave up after ${attempts} tries`);
}
