// Which pages a caller may open: pure, so the menu and the page gate share it (and unit tests reach it).
import type { Action, Resource } from '../../../src/core/authz/access.js';

/** What a page declares it needs: one access, or several of which any one is enough. */
export interface PageNeed {
  need?: [Action, Resource] | [Action, Resource][];
}

/** Whether `may` allows one of the accesses a page needs (none needed: yes). */
export function pageAllowed(r: PageNeed, may: (action: Action, resource: Resource) => boolean): boolean {
  if (!r.need) return true;
  const needs = (Array.isArray(r.need[0]) ? r.need : [r.need]) as [Action, Resource][];
  return needs.some(([a, x]) => may(a, x));
}
