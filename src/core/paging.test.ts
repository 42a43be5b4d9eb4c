import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_DEFAULT, PAGE_MAX, cursorFor, paginate } from './paging.js';

const byName = { key: (x: { name: string }) => x.name };
const items = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `n${String(i).padStart(3, '0')}` }));

/** Every page of a listing, following the cursors. */
function walk<T>(all: T[], order: { key: (t: T) => string; descending?: boolean }, limit: number): { seen: T[]; pages: number } {
  const seen: T[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const p = paginate(all, order, limit, after);
    seen.push(...p.items);
    after = p.next;
    pages++;
  } while (after);
  return { seen, pages };
}

test('paginate walks every item once, in key order, ascending or descending', () => {
  const all = items(25).reverse();
  const up = walk(all, byName, 10);
  assert.equal(up.pages, 3);
  assert.deepEqual(up.seen.map((x) => x.name), items(25).map((x) => x.name));
  const down = walk(all, { ...byName, descending: true }, 7);
  assert.deepEqual(down.seen.map((x) => x.name), items(25).map((x) => x.name).reverse());
  // An exact multiple of the page size ends without an empty extra page.
  assert.equal(walk(items(20), byName, 10).pages, 2);
  assert.deepEqual(paginate([], byName), { items: [] });
});

test('the default page holds PAGE_DEFAULT items and says more follow', () => {
  const p = paginate(items(PAGE_DEFAULT + 1), byName);
  assert.equal(p.items.length, PAGE_DEFAULT);
  assert.ok(p.next);
  assert.equal(paginate(items(PAGE_MAX), byName, PAGE_MAX).next, undefined);
});

test('a cursor stays exact when items come and go between pages', () => {
  const all = items(10);
  const first = paginate(all, byName, 4);
  // The cursor's own item is deleted and a new one is added before it: the next page starts right after n003.
  const changed = all.filter((x) => x.name !== 'n003').concat({ name: 'n0005' });
  assert.deepEqual(paginate(changed, byName, 3, first.next).items.map((x) => x.name), ['n004', 'n005', 'n006']);
});

test('bad limits and cursors the daemon did not make are refused', () => {
  for (const limit of [0, -1, 1.5, PAGE_MAX + 1, Number.NaN]) assert.throws(() => paginate(items(3), byName, limit), /limit must be 1-1000/);
  for (const c of ['bogus', Buffer.from('n001').toString('base64url'), Buffer.from('c2:n001').toString('base64url'), Buffer.from([0x63, 0x31, 0x3a, 0xff]).toString('base64url')]) assert.throws(() => paginate(items(3), byName, 2, c), /cursor/);
  assert.equal(paginate(items(3), byName, 2, cursorFor('n001')).items[0]!.name, 'n002');
});
