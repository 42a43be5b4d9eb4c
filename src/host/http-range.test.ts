import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ifRangeHolds, parseContentRange, parseRange } from './http-range.js';

test('parseRange: one range of a file, suffixes, open ends; several ranges or junk mean the whole file', () => {
  assert.deepEqual(parseRange('bytes=0-99', 1000), { start: 0, end: 99 });
  assert.deepEqual(parseRange('bytes=900-', 1000), { start: 900, end: 999 });
  assert.deepEqual(parseRange('bytes=900-5000', 1000), { start: 900, end: 999 });
  assert.deepEqual(parseRange('bytes=-100', 1000), { start: 900, end: 999 });
  assert.equal(parseRange('bytes=1000-', 1000), 'unsatisfiable');
  assert.equal(parseRange('bytes=0-1,5-9', 1000), undefined);
  assert.equal(parseRange('items=0-1', 1000), undefined);
  assert.equal(parseRange(undefined, 1000), undefined);
});

test('parseContentRange and ifRangeHolds', () => {
  assert.deepEqual(parseContentRange('bytes 10-19/100'), { start: 10, end: 19, total: 100 });
  assert.deepEqual(parseContentRange('bytes 10-19/*'), { start: 10, end: 19 });
  assert.equal(parseContentRange('bytes */100'), undefined);
  assert.equal(ifRangeHolds(undefined, '"a"', 'x'), true);
  assert.equal(ifRangeHolds('"a"', '"a"', 'x'), true);
  assert.equal(ifRangeHolds('"b"', '"a"', 'x'), false);
});
