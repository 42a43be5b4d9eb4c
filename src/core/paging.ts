import { invalid } from '../lib/errors.js';

/** How many items a page of a list route holds unless the client asks (?limit=). */
export const PAGE_DEFAULT = 100;
/** Most items one page may hold. */
export const PAGE_MAX = 1000;

/** One page of a listing; `next` is the cursor of the following page, absent on the last. */
export interface Page<T> {
  items: T[];
  next?: string;
}

/** Where a listing is ordered: by a sort key that is unique per item, ascending or descending. */
export interface PageOrder<T> {
  key: (item: T) => string;
  descending?: boolean;
}

/** The opaque cursor that continues a listing after the item with this sort key. */
export function cursorFor(key: string): string {
  return Buffer.from(`c1:${key}`, 'utf8').toString('base64url');
}

function keyOfCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  // Only cursors this daemon made round-trip exactly; anything else is refused rather than guessed at.
  if (!text.startsWith('c1:') || cursorFor(text.slice(3)) !== cursor) {
    throw invalid(`cursor "${cursor.slice(0, 80)}" is not one this daemon handed out (use the "next" of a previous page)`);
  }
  return text.slice(3);
}

/** Check a requested page size: an integer 1..PAGE_MAX. */
export function checkLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > PAGE_MAX) throw invalid(`limit must be 1-${PAGE_MAX}`);
  return limit;
}

/**
 * One page of `items` in the given order, starting after the cursor. The cursor names a sort key, not a position,
 * so a listing stays exact when items before it are added or removed between pages (the cursor's own item too).
 */
export function paginate<T>(items: readonly T[], order: PageOrder<T>, limit = PAGE_DEFAULT, after?: string): Page<T> {
  checkLimit(limit);
  const dir = order.descending ? -1 : 1;
  const keyed = items.map((item) => ({ item, k: order.key(item) }));
  keyed.sort((a, b) => (a.k < b.k ? -dir : a.k > b.k ? dir : 0));
  let from = 0;
  if (after !== undefined) {
    const c = keyOfCursor(after);
    const at = keyed.findIndex((e) => (dir === 1 ? e.k > c : e.k < c));
    from = at < 0 ? keyed.length : at;
  }
  const page = keyed.slice(from, from + limit);
  const items2 = page.map((e) => e.item);
  return from + limit < keyed.length ? { items: items2, next: cursorFor(page[page.length - 1]!.k) } : { items: items2 };
}
