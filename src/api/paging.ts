import { Type, type TSchema } from '@sinclair/typebox';
import { PAGE_DEFAULT, PAGE_MAX, paginate, type PageOrder } from '../core/paging.js';

/** Query of every list route: `limit` items per page and the `after` cursor of the previous page. */
export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE_MAX, description: `items per page (default ${PAGE_DEFAULT}, at most ${PAGE_MAX})` })),
    after: Type.Optional(Type.String({ minLength: 1, maxLength: 400, pattern: '^[A-Za-z0-9_-]+$', description: 'the "next" cursor of the previous page' })),
  },
  { additionalProperties: false },
);
/** The parsed PageQuery. */
export interface PageParams {
  limit?: number;
  after?: string;
}

/** Body of a list route: the page's items under `key`, and `next` while more follow. */
export function pageOfSchema<T extends TSchema>(key: string, item: T) {
  return Type.Object({ [key]: Type.Array(item), next: Type.Optional(Type.String({ description: 'cursor of the next page (pass it as "after"); absent on the last page' })) });
}

/** Summary suffix that tells API readers how a list route pages. */
export const PAGED = ` a page at a time (default ${PAGE_DEFAULT}, at most ${PAGE_MAX} per page; pass "next" as "after" for the following page)`;

/** Page `items` by `q` and shape the body `{ [key]: mapped items, next? }`; `map` runs on the page only (views can be costly). */
export async function listPage<T, V>(key: string, items: readonly T[], order: PageOrder<T>, q: PageParams, map: (t: T) => V | Promise<V>) {
  const page = paginate(items, order, q.limit, q.after);
  const mapped = await Promise.all(page.items.map(map));
  return page.next ? { [key]: mapped, next: page.next } : { [key]: mapped };
}

/** Order by the `name` field (unique among siblings). */
export const byName = { key: (x: { name: string }) => x.name };
/** Oldest first: ISO creation time (fixed width, so string order is time order), then name. */
export const byCreation = { key: (x: { name: string; createdAt: string }) => `${x.createdAt}|${x.name}` };
