import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SHAPE, HistoryRing, ringBytes } from './history-ring.js';

const SHAPE = { ...DEFAULT_SHAPE, series: 2 };
const T0 = 1_700_000_000 - (1_700_000_000 % 300); // a 5-min boundary

test('the file size is fixed by the shape: 483,872 bytes for an instance (6 series)', () => {
  assert.equal(ringBytes({ ...DEFAULT_SHAPE, series: 6 }), 483_872);
  const r = new HistoryRing(SHAPE);
  for (let i = 0; i < 20_000; i++) r.put(T0 + i * 10, [i, 1]);
  assert.equal(r.buf.length, ringBytes(SHAPE), 'writing two laps of points never grows it');
});

test('10-s points read back with nulls for gaps; older than 24 h is gone', () => {
  const r = new HistoryRing(SHAPE);
  r.put(T0 + 3, [1, 10]);
  r.put(T0 + 12, [2, null]);
  r.put(T0 + 40, [4, 40]); // T0+20 and T0+30 were not sampled
  const got = r.read(60, T0 + 45);
  assert.equal(got.step, 10);
  assert.deepEqual(got.t, [T0 - 10, T0, T0 + 10, T0 + 20, T0 + 30, T0 + 40]);
  assert.deepEqual(got.series[0], [null, 1, 2, null, null, 4]);
  assert.deepEqual(got.series[1], [null, 10, null, null, null, 40]);
  assert.equal(r.read(3600, T0).t.length, 360);
  // A day and a bit later the slot of T0 was written again: T0 itself reads as null.
  r.put(T0 + 86_400, [9, 9]);
  const old = r.read(86_400, T0 + 86_400);
  assert.equal(old.t.length, 8640);
  assert.equal(old.t[0], T0 + 10);
  assert.deepEqual(r.read(86_400, T0 + 86_400 - 10).series[0].slice(0, 1), [null], 'T0 was overwritten by its next lap');
});

test('5-min points are the averages of their 10-s points (nulls skipped); the open 5 minutes are averaged on read', () => {
  const r = new HistoryRing(SHAPE);
  for (let i = 0; i < 30; i++) r.put(T0 + i * 10, [i, i % 2 === 0 ? null : 2]);
  r.put(T0 + 300, [100, 100]);
  r.put(T0 + 310, [200, null]);
  const got = r.read(7 * 86_400, T0 + 310);
  assert.equal(got.step, 300);
  assert.equal(got.t.length, 2016);
  assert.deepEqual(got.t.slice(-2), [T0, T0 + 300]);
  assert.deepEqual(got.series[0].slice(-3), [null, 14.5, 150]);
  assert.deepEqual(got.series[1].slice(-3), [null, 2, 100]);
  assert.equal(r.read(30 * 86_400, T0 + 310).t.length, 8640);
});

test('persistence: the buffer read back is the same ring; only changed slots are written; another shape starts afresh', () => {
  const r = new HistoryRing(SHAPE);
  for (let i = 0; i < 40; i++) r.put(T0 + i * 10, [i, -i]);
  assert.deepEqual(r.takeDirty(), [[0, r.buf.length]], 'a new file is written whole');
  const back = new HistoryRing(SHAPE, Buffer.from(r.buf));
  assert.deepEqual(back.read(3600, T0 + 400), r.read(3600, T0 + 400));
  assert.deepEqual(back.read(30 * 86_400, T0 + 400), r.read(30 * 86_400, T0 + 400));
  assert.equal(back.isDirty, false);
  // The restored ring goes on where it stopped: the next 5 minutes close the open ones.
  back.put(T0 + 600, [1, 1]);
  const ranges = back.takeDirty();
  assert.equal(ranges.length, 2, 'one fine slot and the coarse slot of T0+300');
  assert.ok(ranges.every(([, len]) => len === 12));
  assert.deepEqual(back.read(7 * 86_400, T0 + 600).series[0].slice(-3), [14.5, 34.5, 1]);
  assert.equal(new HistoryRing({ ...SHAPE, series: 3 }, Buffer.from(r.buf)).read(60, T0 + 400).series[0].every((v) => v === null), true);
  assert.equal(new HistoryRing(SHAPE, Buffer.from('garbage')).read(60, T0 + 400).series[0].every((v) => v === null), true);
});
