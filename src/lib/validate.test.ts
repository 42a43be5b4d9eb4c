import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSize, parseBoundedSize, parseSize, validateName } from './validate.js';

test('names must be DNS labels', () => {
  for (const ok of ['a', 'demo', 'web-1', 'a'.repeat(63)]) assert.equal(validateName(ok), ok);
  for (const bad of ['', 'A', '1abc', '-x', 'x-', 'a_b', 'a.b', 'a'.repeat(64), 'x y', '--help', 'é']) {
    assert.throws(() => validateName(bad), /is not valid/, bad);
  }
});

test('sizes parse with binary units', () => {
  assert.equal(parseSize('512MiB'), 512 * 1024 ** 2);
  assert.equal(parseSize('2G'), 2 * 1024 ** 3);
  assert.equal(parseSize('2GB'), 2 * 1024 ** 3);
  assert.equal(parseSize('1.5GiB'), 1.5 * 1024 ** 3);
  assert.equal(parseSize('100'), 100);
  assert.equal(parseSize(4096), 4096);
  assert.equal(parseSize(' 64 m '), 64 * 1024 ** 2);
  for (const bad of ['', 'lots', '-1G', '1X', '0.0.1G', '1e9']) assert.throws(() => parseSize(bad), /not a size/, bad);
  assert.throws(() => parseSize(0), /positive/);
  assert.throws(() => parseSize(1.5), /positive/);
  assert.throws(() => parseSize('0'), /out of range/);
});

test('bounded sizes say the allowed range', () => {
  assert.equal(parseBoundedSize('256M', 64 * 1024 ** 2, 1024 ** 4, 'memory'), 256 * 1024 ** 2);
  assert.throws(() => parseBoundedSize('1M', 64 * 1024 ** 2, 1024 ** 4, 'memory'), /memory 1MiB is out of range: it must be between 64MiB and 1TiB/);
  assert.throws(() => parseBoundedSize('99999T', 1, 1024 ** 4, 'disk'), /out of range/);
});

test('formatSize', () => {
  assert.equal(formatSize(512 * 1024 ** 2), '512MiB');
  assert.equal(formatSize(1536 * 1024 ** 2), '1.5GiB');
  assert.equal(formatSize(10), '10B');
});
