import type { Operation } from '../shared/api-types.js';
import { PAGE_DEFAULT, paginate } from './paging.js';

/** What the operation history keeps: the newest `keep` finished ones, each younger than `ttlMs`; running ones always. */
export interface HistoryLimits {
  keep: number;
  ttlMs: number;
}

/** Default history: the last 500 finished operations of the last 7 days. */
export const DEFAULT_HISTORY: HistoryLimits = { keep: 500, ttlMs: 7 * 24 * 3600 * 1000 };

const finished = (op: Operation) => op.status !== 'pending' && op.status !== 'running';

/** Newest first: by creation time, then id (so the order is total and a cursor is exact). */
export function byNewest(a: Operation, b: Operation): number {
  return b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id);
}

/** Ids of the operations to forget: finished ones past the count or older than the TTL (by their last update); never a running one. */
export function prunable(ops: Operation[], limits: HistoryLimits, now = Date.now()): string[] {
  const done = ops.filter(finished).sort(byNewest);
  return done.filter((op, i) => i >= limits.keep || now - Date.parse(op.updatedAt) > limits.ttlMs).map((op) => op.id);
}

/** One page of operations, newest first, starting after the cursor; `next` is set when more follow. */
export function pageOf(ops: Operation[], limit = PAGE_DEFAULT, after?: string): { operations: Operation[]; next?: string } {
  // createdAt is a fixed-width ISO time, so the string order is the time order; the id makes the key unique.
  const page = paginate(ops, { key: (op) => `${op.createdAt}|${op.id}`, descending: true }, limit, after);
  return page.next ? { operations: page.items, next: page.next } : { operations: page.items };
}
