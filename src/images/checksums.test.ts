import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSha256, sha256From, urlFileName } from './checksums.js';

const A = 'a'.repeat(64);
const B = 'B'.repeat(64);

test('checkSha256 takes 64 hex digits (lower-cased, sha256: prefix allowed) and refuses the rest', () => {
  assert.equal(checkSha256(` sha256:${B}`), 'b'.repeat(64));
  assert.throws(() => checkSha256('abc'), /is not a sha256/);
  assert.throws(() => checkSha256('g'.repeat(64)), /is not a sha256/);
});

test('sha256From finds the line of a file in GNU and BSD SHA256SUMS texts', () => {
  const sums = `${A}  other.img\n${B} *./disk.qcow2\r\nSHA256 (bsd.img) = ${A}\n`;
  assert.equal(sha256From(sums, 'disk.qcow2'), 'b'.repeat(64));
  assert.equal(sha256From(sums, 'bsd.img'), A);
  assert.throws(() => sha256From(sums, 'missing.img'), /no line for missing.img/);
  assert.throws(() => sha256From(`${A}  x\n${'c'.repeat(64)}  x\n`, 'x'), /different sums/);
  assert.equal(urlFileName(new URL('https://h/dir/my%20disk.qcow2?x=1')), 'my disk.qcow2');
});
