import { test } from 'node:test';
import assert from 'node:assert/strict';
import { increase, ratesBetween, sumOrNull } from './rates.js';

test('a counter that grows gives its difference; one that drops was reset and gives its new value', () => {
  assert.equal(increase(100, 150), 50);
  assert.equal(increase(100, 100), 0);
  assert.equal(increase(100, 30), 30);
  // A recreated tap (new ifindex) restarts its counters even when the new value is higher.
  assert.equal(increase(100, 500, 7, 9), 500);
  assert.equal(increase(100, 500, 7, 7), 400);
});

test('rates per second over the elapsed time; missing sides and zero time give null', () => {
  const r = ratesBetween({ at: 100, values: { cpu: 10, rx: 1000, gone: 1 }, epochs: { rx: 3 } }, { at: 110, values: { cpu: 15, rx: 500, fresh: 4 }, epochs: { rx: 3 } });
  assert.deepEqual(r, { cpu: 0.5, rx: 50, fresh: null });
  assert.deepEqual(ratesBetween(undefined, { at: 1, values: { cpu: 1 } }), { cpu: null });
  assert.deepEqual(ratesBetween({ at: 5, values: { cpu: 1 } }, { at: 5, values: { cpu: 2 } }), { cpu: null });
});

test('sums skip nulls; all-null is null', () => {
  assert.equal(sumOrNull([1, null, 2]), 3);
  assert.equal(sumOrNull([null, undefined]), null);
  assert.equal(sumOrNull([]), null);
});
