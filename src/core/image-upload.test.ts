import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { NimboError } from '../lib/errors.js';
import { freeBytes, receiveUpload, uploadSize, UPLOAD_MAX_BYTES } from './image-upload.js';

const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof NimboError);
    return `${e.code}: ${e.message}`;
  }
  return 'accepted';
};

test('an upload is refused before a byte is written: no Content-Length, over the limit, over the free space', () => {
  const GiB = 1024 ** 3;
  assert.equal(UPLOAD_MAX_BYTES, 16 * GiB);
  assert.equal(uploadSize('1048576', UPLOAD_MAX_BYTES, 100 * GiB), 1048576);
  assert.equal(uploadSize(String(16 * GiB), UPLOAD_MAX_BYTES, 100 * GiB), 16 * GiB, 'the limit itself is allowed');
  assert.match(refusal(() => uploadSize(undefined, UPLOAD_MAX_BYTES, GiB)), /^LengthRequired: an upload must declare its size in Content-Length/);
  assert.match(refusal(() => uploadSize(String(16 * GiB + 1), UPLOAD_MAX_BYTES, 100 * GiB)), /^TooLarge: the upload is 17179869185 bytes \(16GiB\), above this daemon's limit of 17179869184 bytes \(16GiB; nimbo daemon --upload-max\)$/);
  assert.match(refusal(() => uploadSize(String(2 * GiB), UPLOAD_MAX_BYTES, GiB)), /^TooLarge: .* has only 1073741824 bytes \(1GiB\) free$/);
  assert.match(refusal(() => uploadSize('12abc', UPLOAD_MAX_BYTES, GiB)), /^InvalidArgument: Content-Length "12abc" is not a number/);
  assert.match(refusal(() => uploadSize('0', UPLOAD_MAX_BYTES, GiB)), /^InvalidArgument: the upload is empty/);
});

test('the body streams to its file; one that passes its Content-Length, or ends short, is cut and its file deleted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-upload-'));
  try {
    assert.ok((await freeBytes(dir)) > 0);
    const chunks = (n: number, size = 1000) => Readable.from(Array.from({ length: n }, (_, i) => Buffer.alloc(size, i)));
    assert.equal(await receiveUpload(chunks(5), join(dir, 'ok'), 5000), 5000);
    assert.equal(readFileSync(join(dir, 'ok')).length, 5000);
    // Counted while streaming: the 6th chunk passes the declared 5000 bytes, and nothing more is read.
    let pulled = 0;
    const endless = new Readable({ read() { pulled++; this.push(Buffer.alloc(1000)); } });
    await assert.rejects(receiveUpload(endless, join(dir, 'long'), 5000), (e: NimboError) => e.code === 'TooLarge' && /more than the 5000 bytes/.test(e.message));
    assert.ok(pulled < 50, `stopped reading after ${pulled} chunks`);
    assert.equal(existsSync(join(dir, 'long')), false);
    await assert.rejects(receiveUpload(chunks(3), join(dir, 'short'), 5000), /ended after 3000 of the 5000 bytes/);
    assert.equal(existsSync(join(dir, 'short')), false);
    const broken = new Readable({ read() { this.destroy(new Error('aborted')); } });
    await assert.rejects(receiveUpload(broken, join(dir, 'broken'), 5000), /broke off after 0 of 5000 bytes \(aborted\)/);
    // An existing file is never overwritten (temp names are fresh; this guards a mistake).
    await assert.rejects(receiveUpload(chunks(1), join(dir, 'ok'), 1000), /exists already/);
    assert.equal(readFileSync(join(dir, 'ok')).length, 5000);
    assert.deepEqual(readdirSync(dir), ['ok']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
