import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectFs, PARTITION_TABLE_BYTES, parsePartitionTable } from './disk-partitions.js';

const MiB = 1024 * 1024;

function mbr(entries: { type: number; lba: number; sectors: number; boot?: number }[]): Buffer {
  const b = Buffer.alloc(PARTITION_TABLE_BYTES);
  entries.forEach((e, i) => {
    const at = 446 + i * 16;
    b[at] = e.boot ?? 0;
    b[at + 4] = e.type;
    b.writeUInt32LE(e.lba, at + 8);
    b.writeUInt32LE(e.sectors, at + 12);
  });
  b.writeUInt16LE(0xaa55, 510);
  return b;
}

function gpt(entries: { slot: number; first: number; last: number }[]): Buffer {
  const b = mbr([{ type: 0xee, lba: 1, sectors: 0xffffffff }]);
  const h = 512;
  b.write('EFI PART', h, 'latin1');
  b.writeBigUInt64LE(2n, h + 72);
  b.writeUInt32LE(128, h + 80);
  b.writeUInt32LE(128, h + 84);
  for (const e of entries) {
    const at = 1024 + e.slot * 128;
    b.fill(0xab, at, at + 16); // any non-zero type GUID
    b.writeBigUInt64LE(BigInt(e.first), at + 32);
    b.writeBigUInt64LE(BigInt(e.last), at + 40);
  }
  return b;
}

test('MBR: primary partitions in bytes, empty and extended entries skipped, a boot flag allowed', () => {
  const t = mbr([{ type: 0x83, lba: 2048, sectors: 4096, boot: 0x80 }, { type: 0, lba: 0, sectors: 0 }, { type: 0x05, lba: 8192, sectors: 2048 }, { type: 0x83, lba: 10240, sectors: 2048 }]);
  assert.deepEqual(parsePartitionTable(t, 16 * MiB), [{ index: 1, start: 1 * MiB, size: 2 * MiB }, { index: 4, start: 5 * MiB, size: 1 * MiB }]);
});

test('GPT: used entries by slot number, inclusive last LBA', () => {
  const t = gpt([{ slot: 0, first: 2048, last: 4095 }, { slot: 2, first: 4096, last: 8191 }]);
  assert.deepEqual(parsePartitionTable(t, 8 * MiB), [{ index: 1, start: 1 * MiB, size: 1 * MiB }, { index: 3, start: 2 * MiB, size: 2 * MiB }]);
});

test('no table, a boot sector that is not a table, and hostile tables', () => {
  assert.deepEqual(parsePartitionTable(Buffer.alloc(PARTITION_TABLE_BYTES), 8 * MiB), []);
  const fat = mbr([{ type: 0x83, lba: 2048, sectors: 10 }]);
  fat[446] = 0x33; // boot code, not a boot flag
  assert.deepEqual(parsePartitionTable(fat, 8 * MiB), []);
  assert.throws(() => parsePartitionTable(mbr([{ type: 0x83, lba: 2048, sectors: 1e6 }]), 8 * MiB), /partition 1 .* lies outside the 8388608-byte disk/);
  const noHeader = mbr([{ type: 0xee, lba: 1, sectors: 100 }]);
  assert.throws(() => parsePartitionTable(noHeader, 8 * MiB), /protective MBR but no GPT header/);
  const far = gpt([]);
  far.writeBigUInt64LE(1000n, 512 + 72);
  far.fill(1, 1024, 1040);
  assert.throws(() => parsePartitionTable(far, 8 * MiB), /GPT entry 1 lies past/);
  assert.throws(() => parsePartitionTable(gpt([{ slot: 0, first: 4096, last: 10 }]), 8 * MiB), /ends before it starts/);
});

test('detectFs: ext magic at 1024+56, XFS magic at 0', () => {
  const ext = Buffer.alloc(2048);
  ext.writeUInt16LE(0xef53, 1080);
  assert.equal(detectFs(ext), 'ext4');
  assert.equal(detectFs(Buffer.concat([Buffer.from('XFSB'), Buffer.alloc(2044)])), 'xfs');
  assert.equal(detectFs(Buffer.alloc(2048)), null);
  assert.equal(detectFs(Buffer.alloc(10)), null);
});
