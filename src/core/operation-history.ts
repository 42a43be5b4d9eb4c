import type { Operation } from '../shared/api-types.js';
import { invalid } from './errors.js';

/** How many operations a page holds unless the client asks (GET /operations?limit=). */
export const OPS_PAGE_DEFAULT = 100;
/** Most operations one page may hold. */
export const OPS_PAGE_MAX = 1000;

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

/** The cursor that continues a listing after `op`. */
export function cursorOf(op: Operation): string {
  return Buffer.from(`${op.createdAt}|${op.id}`, 'utf8').toString('base64url');
}

function parseCursor(cursor: string): { createdAt: string; id: string } {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^(\d{4}-\d\d-\d\dT[0-9:.]+Z)\|([0-9a-f-]{36})$/.exec(text);
  if (!m) throw invalid(`cursor "${cursor.slice(0, 80)}" is not one this daemon handed out (use the "next" of a previous page)`);
  return { createdAt: m[1]!, id: m[2]! };
}

/** One page of operations, newest first, starting after the cursor; `next` is set when more follow. */
export function pageOf(ops: Operation[], limit = OPS_PAGE_DEFAULT, after?: string): { operations: Operation[]; next?: string } {
  if (!Number.isInteger(limit) || limit < 1 || limit > OPS_PAGE_MAX) throw invalid(`limit must be 1-${OPS_PAGE_MAX}`);
  const sorted = [...ops].sort(byNewest);
  let from = 0;
  if (after !== undefined) {
    const c = parseCursor(after);
    // The first one strictly older than the cursor: works even when the cursor's own operation was pruned meanwhile.
    const at = sorted.findIndex((op) => op.createdAt < c.createdAt || (op.createdAt === c.createdAt && op.id < c.id));
    from = at < 0 ? sorted.length : at;
  }
  const page = sorted.slice(from, from + limit);
  return from + limit < sorted.length ? { operations: page, next: cursorOf(page[page.length - 1]!) } : { operations: page };
}
