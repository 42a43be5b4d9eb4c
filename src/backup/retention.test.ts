import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isoWeek, selectRetention, validatePolicy } from './retention.js';

const day = (d: string, h = '12') => ({ id: `s-${d}T${h}`, time: `${d}T${h}:00:00Z` });
// 30 daily snapshots, 2026-11-01 .. 2026-11-30 (Nov 30 2026 is a Monday).
const november = Array.from({ length: 30 }, (_, i) => day(`2026-11-${String(i + 1).padStart(2, '0')}`));

test('30 daily snapshots with keepDaily 7 and keepWeekly 4 keep exactly these', () => {
  const r = selectRetention([...november].reverse(), { keepDaily: 7, keepWeekly: 4 });
  assert.deepEqual(r.keep, [
    { id: 's-2026-11-30T12', reasons: ['daily', 'weekly'] },
    { id: 's-2026-11-29T12', reasons: ['daily', 'weekly'] },
    { id: 's-2026-11-28T12', reasons: ['daily'] },
    { id: 's-2026-11-27T12', reasons: ['daily'] },
    { id: 's-2026-11-26T12', reasons: ['daily'] },
    { id: 's-2026-11-25T12', reasons: ['daily'] },
    { id: 's-2026-11-24T12', reasons: ['daily'] },
    { id: 's-2026-11-22T12', reasons: ['weekly'] },
    { id: 's-2026-11-15T12', reasons: ['weekly'] },
  ]);
  assert.equal(r.remove.length, 21);
  assert.ok(r.remove.includes('s-2026-11-23T12') && r.remove.includes('s-2026-11-01T12'));
});

test('keepLast counts snapshots; hourly/daily take the newest of each period', () => {
  const snaps = [day('2026-12-01', '10'), day('2026-12-01', '11'), { id: 'b', time: '2026-12-01T11:30:00Z' }, day('2026-12-02', '09'), day('2026-12-02', '23')];
  assert.deepEqual(selectRetention(snaps, { keepLast: 2 }).keep.map((k) => k.id), ['s-2026-12-02T23', 's-2026-12-02T09']);
  assert.deepEqual(selectRetention(snaps, { keepHourly: 3 }).keep.map((k) => k.id), ['s-2026-12-02T23', 's-2026-12-02T09', 'b']);
  const d = selectRetention(snaps, { keepDaily: 5 });
  assert.deepEqual(d.keep.map((k) => k.id), ['s-2026-12-02T23', 'b']);
  assert.deepEqual(d.remove, ['s-2026-12-02T09', 's-2026-12-01T11', 's-2026-12-01T10']);
});

test('monthly and yearly over two years; fewer periods than asked keeps what exists', () => {
  const snaps = ['2025-01-15', '2025-06-01', '2025-06-20', '2025-12-31', '2026-01-01', '2026-03-05'].map((d) => day(d));
  assert.deepEqual(selectRetention(snaps, { keepMonthly: 3 }).keep.map((k) => k.id), ['s-2026-03-05T12', 's-2026-01-01T12', 's-2025-12-31T12']);
  assert.deepEqual(selectRetention(snaps, { keepYearly: 5 }).keep.map((k) => k.id), ['s-2026-03-05T12', 's-2025-12-31T12']);
  assert.deepEqual(selectRetention(snaps, { keepMonthly: 1, keepYearly: 2 }).keep, [
    { id: 's-2026-03-05T12', reasons: ['monthly', 'yearly'] },
    { id: 's-2025-12-31T12', reasons: ['yearly'] },
  ]);
});

test('ISO weeks: the week-numbering year differs from the calendar year at the edges', () => {
  assert.equal(isoWeek(new Date('2026-12-05T00:00:00Z')), 202649);
  assert.equal(isoWeek(new Date('2021-01-03T23:00:00Z')), 202053);
  assert.equal(isoWeek(new Date('2024-12-30T00:00:00Z')), 202501);
  assert.equal(isoWeek(new Date('2026-01-01T00:00:00Z')), 202601);
  assert.equal(isoWeek(new Date('2027-01-01T00:00:00Z')), 202653);
});

test('an empty policy keeps everything, and validatePolicy refuses it and bad counts', () => {
  assert.equal(selectRetention(november, {}).remove.length, 0);
  assert.throws(() => validatePolicy({}), /empty policy would keep everything/);
  assert.throws(() => validatePolicy({ keepDaily: 0 }), /at least one/);
  assert.throws(() => validatePolicy({ keepDaily: -1 }), /non-negative integer/);
  assert.throws(() => validatePolicy({ keepLast: 1.5 }), /non-negative integer/);
  assert.deepEqual(validatePolicy({ keepLast: 3 }), { keepLast: 3 });
});
