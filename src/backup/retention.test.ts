import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isoWeek, selectRetention, validatePolicy } from './retention.js';

/** One snapshot a day at 02:30 UTC for `n` days ending 2026-12-05 (newest first in ids: d0 is the newest). */
const daily = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `d${i}`, time: new Date(Date.UTC(2026, 11, 5 - i, 2, 30)).toISOString() }));

test('keep-last keeps the N newest whatever their times', () => {
  const r = selectRetention(daily(5), { keepLast: 2 });
  assert.deepEqual(r.keep, [{ id: 'd0', reasons: ['last'] }, { id: 'd1', reasons: ['last'] }]);
  assert.deepEqual(r.remove, ['d2', 'd3', 'd4']);
});

test('30 daily snapshots with keep-daily 7 and keep-weekly 4: the 7 newest days, then the newest of each older ISO week', () => {
  const r = selectRetention(daily(30), { keepDaily: 7, keepWeekly: 4 });
  // 2026-12-05 is a Saturday: d0..d5 are Sat..Mon of week 49, d6 is Sunday of week 48.
  assert.deepEqual(r.keep.map((k) => [k.id, k.reasons.join('+')]), [
    ['d0', 'daily+weekly'], ['d1', 'daily'], ['d2', 'daily'], ['d3', 'daily'], ['d4', 'daily'], ['d5', 'daily'],
    ['d6', 'daily+weekly'], ['d13', 'weekly'], ['d20', 'weekly'],
  ]);
  assert.equal(r.keep.length + r.remove.length, 30);
});

test('hourly, monthly and yearly buckets; several snapshots in one period keep only the newest', () => {
  const snaps = [
    { id: 'a', time: '2026-12-05T10:50:00Z' },
    { id: 'b', time: '2026-12-05T10:10:00Z' },
    { id: 'c', time: '2026-12-05T09:00:00Z' },
    { id: 'd', time: '2026-11-30T23:00:00Z' },
    { id: 'e', time: '2025-06-01T00:00:00Z' },
    { id: 'f', time: '2024-01-01T00:00:00Z' },
  ];
  assert.deepEqual(selectRetention(snaps, { keepHourly: 2 }).keep.map((k) => k.id), ['a', 'c']);
  assert.deepEqual(selectRetention(snaps, { keepMonthly: 3 }).keep.map((k) => k.id), ['a', 'd', 'e']);
  assert.deepEqual(selectRetention(snaps, { keepYearly: 10 }).keep.map((k) => k.id), ['a', 'e', 'f']);
  // Order of the input does not matter.
  assert.deepEqual(selectRetention([...snaps].reverse(), { keepYearly: 10 }).keep.map((k) => k.id), ['a', 'e', 'f']);
});

test('ISO weeks: the week-year of early January and late December', () => {
  assert.equal(isoWeek(new Date('2026-12-05T00:00:00Z')), '2026-W49');
  assert.equal(isoWeek(new Date('2027-01-01T00:00:00Z')), '2026-W53');
  assert.equal(isoWeek(new Date('2024-12-30T00:00:00Z')), '2025-W01');
});

test('a policy that keeps nothing, or a bad count, is refused', () => {
  assert.throws(() => validatePolicy({}), { code: 'InvalidArgument' });
  assert.throws(() => validatePolicy({ keepLast: 0 }), { code: 'InvalidArgument' });
  assert.throws(() => validatePolicy({ keepDaily: -1 }), { code: 'InvalidArgument' });
  assert.throws(() => validatePolicy({ keepDaily: 1.5 }), { code: 'InvalidArgument' });
  assert.throws(() => selectRetention(daily(3), {}), { code: 'InvalidArgument' });
});
