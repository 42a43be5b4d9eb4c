import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeExtents } from './nbd-block-reader.js';

test('mergeExtents: allocation x dirty bitmap, ZERO (not HOLE alone) means zeros, joined runs, stops at the shorter list', () => {
  const alloc = [{ length: 100, flags: 0 }, { length: 50, flags: 1 }, { length: 50, flags: 3 }, { length: 100, flags: 0 }];
  const dirty = [{ length: 120, flags: 1 }, { length: 130, flags: 0 }];
  assert.deepEqual(mergeExtents(1000, alloc, dirty), [
    { offset: 1000, length: 120, zero: false, dirty: true },
    { offset: 1120, length: 30, zero: false, dirty: false },
    { offset: 1150, length: 50, zero: true, dirty: false },
    { offset: 1200, length: 50, zero: false, dirty: false },
  ]);
  assert.deepEqual(mergeExtents(0, alloc, undefined).map((e) => [e.length, e.zero, e.dirty]), [[150, false, true], [50, true, true], [100, false, true]], 'full: all dirty');
});
