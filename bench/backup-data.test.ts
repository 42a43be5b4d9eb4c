import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KiB, MiB, chunksTouched, planChanges, regionBytes } from './backup-data.js';

const size = 256 * MiB;
const total = 25 * MiB + 64 * KiB;

test('planChanges: aligned, inside the disk, non-overlapping, exactly the total, 64 KiB..4 MiB each', () => {
  const rs = planChanges(7, size, total);
  assert.equal(rs.reduce((s, r) => s + r.length, 0), total);
  for (const [i, r] of rs.entries()) {
    assert.equal(r.offset % (64 * KiB), 0);
    assert.equal(r.length % (64 * KiB), 0);
    assert.ok(r.length >= 64 * KiB && r.length <= 4 * MiB, `length ${r.length}`);
    assert.ok(r.offset + r.length <= size);
    if (i > 0) assert.ok(rs[i - 1]!.offset + rs[i - 1]!.length <= r.offset, 'regions overlap or are unsorted');
  }
  assert.ok(new Set(rs.map((r) => r.length)).size > 5, 'lengths vary');
});

test('planChanges: the same seed gives the same regions, another seed others', () => {
  assert.deepEqual(planChanges(7, size, total), planChanges(7, size, total));
  assert.notDeepEqual(planChanges(7, size, total), planChanges(8, size, total));
});

test('planChanges refuses unaligned sizes and more than half the disk', () => {
  assert.throws(() => planChanges(1, size, 1000), /multiples/);
  assert.throws(() => planChanges(1, size, size / 2 + 64 * KiB), /at most half/);
});

test('chunksTouched counts every chunk a region overlaps once', () => {
  const c = 4 * MiB;
  assert.equal(chunksTouched([{ offset: 0, length: 64 * KiB }, { offset: 64 * KiB, length: 64 * KiB }], c), 1);
  assert.equal(chunksTouched([{ offset: c - 64 * KiB, length: 128 * KiB }], c), 2);
  assert.equal(chunksTouched([{ offset: 3 * c, length: 2 * c }], c), 2);
});

test('regionBytes: deterministic per seed and offset, differs between regions', () => {
  const a = regionBytes(1, { offset: 0, length: 64 * KiB });
  assert.deepEqual(a, regionBytes(1, { offset: 0, length: 64 * KiB }));
  assert.notDeepEqual(a, regionBytes(1, { offset: 64 * KiB, length: 64 * KiB }));
  assert.notDeepEqual(a, regionBytes(2, { offset: 0, length: 64 * KiB }));
  assert.equal(a.length, 64 * KiB);
});
