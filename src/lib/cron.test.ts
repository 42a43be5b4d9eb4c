import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cronMatches, nextFire, parseCron } from './cron.js';

const at = (s: string) => new Date(`${s}Z`);

test('fields: lists, ranges, steps and aliases', () => {
  const c = parseCron('*/15 9-17 * * 1-5');
  assert.deepEqual([...c.minute], [0, 15, 30, 45]);
  assert.deepEqual([...c.hour], [9, 10, 11, 12, 13, 14, 15, 16, 17]);
  assert.ok(cronMatches(c, at('2026-11-30T09:45:00'))); // a Monday
  assert.ok(!cronMatches(c, at('2026-11-29T09:45:00'))); // a Sunday
  assert.ok(!cronMatches(c, at('2026-11-30T09:46:00')));
  assert.ok(cronMatches(parseCron('@hourly'), at('2026-11-28T13:00:00')));
  assert.ok(cronMatches(parseCron('0 0 * * 7'), at('2026-11-29T00:00:00')), '7 is Sunday too');
  assert.deepEqual([...parseCron('5,10-12 * * * *').minute], [5, 10, 11, 12]);
});

test('day-of-month and day-of-week are ORed when both are given', () => {
  const c = parseCron('0 0 1 * 1');
  assert.ok(cronMatches(c, at('2026-12-01T00:00:00'))); // the 1st (a Tuesday)
  assert.ok(cronMatches(c, at('2026-11-30T00:00:00'))); // a Monday
  assert.ok(!cronMatches(c, at('2026-12-02T00:00:00')));
});

test('bad expressions say what is wrong', () => {
  assert.throws(() => parseCron('* * *'), /5 fields/);
  // Names of Object.prototype's members are not aliases (the fuzz test found these as 500s).
  for (const x of ['constructor', '__proto__', 'toString', '@constructor']) assert.throws(() => parseCron(x), { code: 'InvalidArgument' });
  assert.throws(() => parseCron('61 * * * *'), /minute field "61" is out of range 0-59/);
  assert.throws(() => parseCron('x * * * *'), /minute field "x" is not valid/);
  assert.throws(() => parseCron('*/0 * * * *'), /out of range/);
});

test('nextFire finds the next minute within a window', () => {
  const c = parseCron('30 * * * *');
  assert.deepEqual(nextFire(c, at('2026-11-28T10:30:00'), at('2026-11-28T12:00:00')), at('2026-11-28T11:30:00'));
  assert.equal(nextFire(c, at('2026-11-28T10:31:00'), at('2026-11-28T11:00:00')), undefined);
});

test('month and weekday names, case-insensitive, in lists and ranges', () => {
  const c = parseCron('0 9 * jan,Jul MON-fri');
  assert.deepEqual([...c.month], [1, 7]);
  assert.deepEqual([...c.dow], [1, 2, 3, 4, 5]);
  assert.ok(cronMatches(c, at('2026-07-06T09:00:00'))); // a Monday in July
  assert.ok(!cronMatches(c, at('2026-07-05T09:00:00'))); // a Sunday
  assert.ok(!cronMatches(c, at('2026-08-03T09:00:00'))); // a Monday in August
  assert.deepEqual([...parseCron('0 0 * * SUN').dow], [0]);
  assert.deepEqual([...parseCron('0 0 * DEC *').month], [12]);
  assert.throws(() => parseCron('0 0 * * FUNDAY'), /"FUNDAY" is not one of SUN MON/);
  assert.throws(() => parseCron('MON * * * *'), /minute field "MON" is not valid/);
  assert.throws(() => parseCron('0 0 * FRI *'), /"FRI" is not one of JAN/);
});

test('@yearly, @annually and the other aliases, case-insensitive', () => {
  for (const a of ['@yearly', '@annually', '@YEARLY']) {
    const c = parseCron(a);
    assert.ok(cronMatches(c, at('2027-01-01T00:00:00')), a);
    assert.ok(!cronMatches(c, at('2027-02-01T00:00:00')), a);
  }
  assert.deepEqual(nextFire(parseCron('@annually'), at('2026-12-04T20:00:00'), at('2028-01-01T00:00:00')), at('2027-01-01T00:00:00'));
  assert.ok(cronMatches(parseCron('@Daily'), at('2026-12-04T00:00:00')));
  assert.ok(cronMatches(parseCron('@monthly'), at('2026-12-01T00:00:00')));
  assert.ok(cronMatches(parseCron('@weekly'), at('2026-12-06T00:00:00'))); // a Sunday
  assert.throws(() => parseCron('@fortnightly'), /is not one of @hourly/);
});
