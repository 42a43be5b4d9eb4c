import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockSize, checkGrow, cloneOptions, poolSpec, quotaSize, volumeSpec } from './validate.js';

const MiB = 1024 * 1024;

test('block sizes are bounded and rounded up to whole sectors', () => {
  assert.equal(blockSize(MiB), MiB);
  assert.equal(blockSize(MiB + 1), MiB + 512);
  for (const bad of [0, -1, 1.5, 4096, 2 ** 60, Number.NaN]) assert.throws(() => blockSize(bad), /volume size/);
  assert.equal(quotaSize(0), 0);
  assert.throws(() => quotaSize(100), /out of range/);
});

test('volume specs: names, kinds and the pool format', () => {
  assert.deepEqual(volumeSpec({ name: 'a', kind: 'block', sizeBytes: MiB }, 'qcow2', 'p'), { name: 'a', kind: 'block', sizeBytes: MiB, format: 'qcow2' });
  assert.deepEqual(volumeSpec({ name: 'f', kind: 'filesystem', sizeBytes: 0 }, 'raw', 'p'), { name: 'f', kind: 'filesystem', sizeBytes: 0 });
  assert.throws(() => volumeSpec({ name: 'a', kind: 'block', sizeBytes: MiB, format: 'raw' }, 'qcow2', 'p'), /stores qcow2 volumes, not raw/);
  assert.throws(() => volumeSpec({ name: '../etc', kind: 'block', sizeBytes: MiB }, 'qcow2', 'p'), /volume name/);
  assert.throws(() => volumeSpec({ name: 'a', kind: 'disk' as 'block', sizeBytes: MiB }, 'qcow2', 'p'), /kind/);
  assert.throws(() => volumeSpec({ name: 'a', kind: 'filesystem', sizeBytes: MiB, format: 'raw' }, 'raw', 'p'), /no format/);
});

test('shrinking is refused with a message saying why', () => {
  checkGrow('v', MiB, MiB);
  checkGrow('v', MiB, 2 * MiB);
  assert.throws(() => checkGrow('v', 2 * MiB, MiB), /shrinking volume "v" from 2MiB to 1MiB is refused: it would cut off the data/);
});

test('clone options and pool specs are checked', () => {
  assert.throws(() => cloneOptions({ mode: 'deep' as 'full' }), /linked or full/);
  assert.throws(() => cloneOptions({ mode: 'full', fromSnapshot: 'Bad' }), /snapshot name/);
  assert.equal(poolSpec({ name: 'p', driver: 'dir', path: '/srv/p/', options: {} }).path, '/srv/p');
  assert.equal(poolSpec({ name: 'p', driver: 'dir', path: '/srv/p', options: {} }).options.format, 'qcow2');
  for (const path of ['rel', '/', '//', '']) assert.throws(() => poolSpec({ name: 'p', driver: 'dir', path, options: {} }), /pool path/);
  assert.throws(() => poolSpec({ name: 'p', driver: 'dir', path: '/x', options: { format: 'vmdk' as 'raw' } }), /pool format/);
});
