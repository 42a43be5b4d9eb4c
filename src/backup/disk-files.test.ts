import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsOf, parsePartitionTable, resolveInside } from './disk-files.js';

const MiB = 1024 * 1024;

/** An MBR with the given (start sector, sectors, type) entries. */
function mbr(entries: [number, number, number][]): Buffer {
  const b = Buffer.alloc(64 * 1024);
  entries.forEach(([start, n, type], i) => {
    const e = 446 + i * 16;
    b[e + 4] = type;
    b.writeUInt32LE(start, e + 8);
    b.writeUInt32LE(n, e + 12);
  });
  b.writeUInt16LE(0xaa55, 510);
  return b;
}

test('MBR: primary partitions in order, empty and extended entries left out, none beyond the disk', () => {
  const head = mbr([[2048, 4096, 0x83], [0, 0, 0], [6144, 100, 0x05], [8192, 1 << 30, 0x83]]);
  assert.deepEqual(parsePartitionTable(head, 64 * MiB), [{ index: 1, start: 2048 * 512, size: 4096 * 512 }]);
});

test('GPT: entries from the header, unused ones skipped', () => {
  const head = mbr([[1, 0xffffffff, 0xee]]);
  head.write('EFI PART', 512, 'latin1');
  head.writeBigUInt64LE(2n, 512 + 72); // entries at LBA 2
  head.writeUInt32LE(4, 512 + 80);
  head.writeUInt32LE(128, 512 + 84);
  const entry = (i: number, first: number, last: number) => {
    const off = 1024 + i * 128;
    head.fill(0xab, off, off + 16); // a type GUID
    head.writeBigUInt64LE(BigInt(first), off + 32);
    head.writeBigUInt64LE(BigInt(last), off + 40);
  };
  entry(0, 2048, 4095);
  entry(2, 4096, 8191);
  assert.deepEqual(parsePartitionTable(head, 64 * MiB), [
    { index: 1, start: 2048 * 512, size: 2048 * 512 },
    { index: 3, start: 4096 * 512, size: 4096 * 512 },
  ]);
});

test('no table: nothing (the caller takes the whole disk); filesystems known by their superblock magic', () => {
  assert.deepEqual(parsePartitionTable(Buffer.alloc(4096), 64 * MiB), []);
  const ext = Buffer.alloc(2048);
  ext.writeUInt16LE(0xef53, 1024 + 56);
  assert.equal(fsOf(ext), 'ext4');
  assert.equal(fsOf(Buffer.concat([Buffer.from('XFSB'), Buffer.alloc(2044)])), 'xfs');
  assert.equal(fsOf(Buffer.alloc(2048)), null);
});

test('paths resolve inside the filesystem: symlinks follow with the mount as root, .. never climbs out', async () => {
  const root = mkdtempSync(join(tmpdir(), 'nimbo-resolve-'));
  try {
    mkdirSync(join(root, 'usr', 'lib'), { recursive: true });
    writeFileSync(join(root, 'usr', 'lib', 'f'), 'x');
    symlinkSync('usr/lib', join(root, 'lib'));
    symlinkSync('/etc/passwd', join(root, 'passwd')); // the guest's /etc/passwd, not the host's
    symlinkSync('../../../../..', join(root, 'up'));
    assert.equal(await resolveInside(root, '/lib/f'), join(root, 'usr', 'lib', 'f'));
    assert.equal(await resolveInside(root, '/up/usr/lib/f'), join(root, 'usr', 'lib', 'f'), 'an escaping link lands at the root');
    await assert.rejects(resolveInside(root, '/passwd'), { code: 'NotFound' }, 'the guest has no /etc/passwd: the host file is never reached');
    assert.equal(await resolveInside(root, '/passwd', false), join(root, 'passwd'));
    symlinkSync('loop2', join(root, 'loop1'));
    symlinkSync('loop1', join(root, 'loop2'));
    await assert.rejects(resolveInside(root, '/loop1'), { message: /too many symbolic links/ });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
