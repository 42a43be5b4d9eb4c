import { test } from 'node:test';
import assert from 'node:assert/strict';
import { indexDigests, parseDynamicIndex, parseFixedIndex, serializeDynamicIndex, serializeFixedIndex } from './index-format.js';
import { validateManifest } from './manifest.js';
import { testManifest } from './testing/temp-store.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

test('fixed and dynamic indexes round-trip; digests are collected once', () => {
  const f = { chunkSize: 4, size: 10, digests: [A, null, A] };
  assert.deepEqual(parseFixedIndex(serializeFixedIndex(f)), f);
  const d = { size: 30, entries: [{ end: 10, digest: A }, { end: 30, digest: B }] };
  assert.deepEqual(parseDynamicIndex(Buffer.from(serializeDynamicIndex(d))), d);
  assert.deepEqual([...indexDigests(f)], [A]);
  assert.deepEqual([...indexDigests(d)].sort(), [A, B]);
});

test('malformed index files get a clear error', () => {
  assert.throws(() => parseFixedIndex('{"format":1,', 'x.fidx'), /index x.fidx is not valid JSON/);
  assert.throws(() => parseFixedIndex(serializeDynamicIndex({ size: 0, entries: [] })), /not a format-1 fixed index/);
  assert.throws(() => parseFixedIndex(JSON.stringify({ format: 1, type: 'fixed', chunkSize: 4, size: 10, digests: [A] })), /expected 3 digests/);
  assert.throws(() => parseFixedIndex(JSON.stringify({ format: 1, type: 'fixed', chunkSize: 4, size: 4, digests: ['zz'] })), /bad digest/);
  assert.throws(() => parseFixedIndex(JSON.stringify({ format: 1, type: 'fixed', chunkSize: 0, size: 4, digests: [] })), /bad chunkSize/);
  assert.throws(() => parseDynamicIndex(JSON.stringify({ format: 1, type: 'dynamic', size: 30, ends: [10, 10], digests: [A, B] })), /must increase/);
  assert.throws(() => parseDynamicIndex(JSON.stringify({ format: 1, type: 'dynamic', size: 31, ends: [10, 30], digests: [A, B] })), /cover 30 bytes/);
});

test('manifests are validated', () => {
  assert.equal(validateManifest(testManifest()).id, '20261205T141500Z-0001');
  assert.throws(() => validateManifest({ ...testManifest(), format: 2 }), /not a format-1 backup manifest/);
  assert.throws(() => validateManifest(testManifest({ id: '../../etc' })), /backup id .* is not a valid name/);
  assert.throws(() => validateManifest(testManifest({ mode: 'weird' as never })), /mode must be full or incremental/);
  assert.throws(() => validateManifest(testManifest({ time: 'yesterday' })), /ISO date/);
  assert.throws(() => validateManifest({ ...testManifest(), stats: {} }), /stats must have/);
  const arch = { name: 'root', type: 'fixed' as const, size: 1, file: 'root.fidx' };
  assert.throws(() => validateManifest(testManifest({ archives: [arch, { ...arch, name: 'x' }] })), /reserved or repeated/);
  assert.throws(() => validateManifest(testManifest({ archives: [{ ...arch, file: 'manifest.json' }] })), /reserved/);
  assert.throws(() => validateManifest(testManifest({ archives: [{ ...arch, file: 'a/b' }] })), /not a valid name/);
});
