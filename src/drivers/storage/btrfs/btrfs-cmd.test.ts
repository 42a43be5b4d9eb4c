import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clearStaleArgv, qgroupLimitArgv, quotaEnableArgv, setReadOnlyArgv, snapshotArgv, subvolumeCreateArgv, subvolumeDeleteArgv } from './btrfs-cmd.js';
import { mkfsArgv } from '../testing/loop-fs.js';

test('btrfs argv', () => {
  assert.deepEqual(subvolumeCreateArgv('/p/.tmp/x'), ['btrfs', '-q', 'subvolume', 'create', '/p/.tmp/x']);
  assert.deepEqual(snapshotArgv('/p/volumes/a', '/p/snapshots/a/s1', true), ['btrfs', '-q', 'subvolume', 'snapshot', '-r', '/p/volumes/a', '/p/snapshots/a/s1']);
  assert.deepEqual(snapshotArgv('/a', '/b', false), ['btrfs', '-q', 'subvolume', 'snapshot', '/a', '/b']);
  assert.deepEqual(subvolumeDeleteArgv('/a'), ['btrfs', '-q', 'subvolume', 'delete', '/a']);
  assert.deepEqual(setReadOnlyArgv('/a', true), ['btrfs', 'property', 'set', '-ts', '/a', 'ro', 'true']);
  assert.deepEqual(quotaEnableArgv('/p'), ['btrfs', 'quota', 'enable', '/p']);
  assert.deepEqual(qgroupLimitArgv('/p/filesystems/f', 8388608), ['btrfs', 'qgroup', 'limit', '8388608', '/p/filesystems/f']);
  assert.deepEqual(qgroupLimitArgv('/f', 0), ['btrfs', 'qgroup', 'limit', 'none', '/f']);
  assert.deepEqual(clearStaleArgv('/p'), ['btrfs', 'qgroup', 'clear-stale', '/p']);
});

test('test filesystems: XFS always with reflinks', () => {
  assert.deepEqual(mkfsArgv('xfs', '/i'), ['mkfs.xfs', '-q', '-f', '-m', 'reflink=1', '/i']);
  assert.deepEqual(mkfsArgv('btrfs', '/i'), ['mkfs.btrfs', '-q', '-f', '/i']);
  assert.deepEqual(mkfsArgv('ext4', '/i'), ['mkfs.ext4', '-q', '-F', '/i']);
});
