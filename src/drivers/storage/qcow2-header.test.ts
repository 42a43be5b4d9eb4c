import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseQcow2Header, readQcow2Header } from './qcow2-header.js';

/** A minimal qcow2 v3 header (as qemu-img writes it) with an optional backing name at offset 112. */
function header(size: bigint, backing?: string, snapshots = 0): Buffer {
  const buf = Buffer.alloc(512);
  buf.writeUInt32BE(0x514649fb, 0);
  buf.writeUInt32BE(3, 4);
  if (backing) {
    buf.writeBigUInt64BE(112n, 8);
    buf.writeUInt32BE(Buffer.byteLength(backing), 16);
    buf.write(backing, 112);
  }
  buf.writeUInt32BE(16, 20);
  buf.writeBigUInt64BE(size, 24);
  buf.writeUInt32BE(snapshots, 60);
  return buf;
}

test('parses size, backing location and snapshot count', () => {
  const h = parseQcow2Header(header(64n * 1024n * 1024n, '../bases/b.qcow2', 2));
  assert.deepEqual(h, { version: 3, virtualSize: 67108864, backingOffset: 112, backingSize: 16, snapshots: 2 });
});

test('refuses what is not qcow2', () => {
  assert.throws(() => parseQcow2Header(Buffer.alloc(512)), /not a qcow2/);
  assert.throws(() => parseQcow2Header(Buffer.alloc(10)), /not a qcow2/);
});

test('reads the backing file name from a file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'qs-hdr-'));
  try {
    await writeFile(join(dir, 'a.qcow2'), header(1048576n, '../bases/x.qcow2'));
    await writeFile(join(dir, 'b.qcow2'), header(2048n));
    assert.deepEqual(await readQcow2Header(join(dir, 'a.qcow2')), { version: 3, virtualSize: 1048576, snapshots: 0, backingFile: '../bases/x.qcow2' });
    assert.equal((await readQcow2Header(join(dir, 'b.qcow2'))).backingFile, undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
