import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkPoolPath, fsTypeAt, parseMountinfo, resolvePoolPath, within, type PoolPathContext } from './pool-paths.js';

const code = (c: string, re: RegExp) => (e: unknown) => (e as { code?: string }).code === c && re.test((e as Error).message);
const ctx = (path: string, more: Partial<PoolPathContext> = {}): PoolPathContext => ({
  name: 'p',
  path,
  fsType: 'ext4',
  stateDir: '/var/lib/nimbo',
  defaultPath: '/var/lib/nimbo/pools/p',
  pools: [
    { name: 'default', path: '/var/lib/nimbo/pools/default' },
    { name: 'fast', path: '/srv/fast' },
  ],
  ...more,
});

test('within: equal or below, never a mere string prefix', () => {
  assert.equal(within('/srv/fast', '/srv/fast'), true);
  assert.equal(within('/srv/fast/a', '/srv/fast'), true);
  assert.equal(within('/srv/fast2', '/srv/fast'), false);
  assert.equal(within('/srv', '/srv/fast'), false);
  assert.equal(within('/anything', '/'), true);
});

test('a pool may not equal, sit inside or contain another pool', () => {
  assert.throws(() => checkPoolPath(ctx('/srv/fast')), code('Conflict', /already used by pool fast/));
  assert.throws(() => checkPoolPath(ctx('/srv/fast/inner')), code('Conflict', /inside pool fast \(\/srv\/fast\)/));
  assert.throws(() => checkPoolPath(ctx('/srv')), code('Conflict', /contains pool fast/));
  assert.throws(() => checkPoolPath(ctx('/var/lib/nimbo/pools/default/x')), code('Conflict', /inside pool default/));
  assert.doesNotThrow(() => checkPoolPath(ctx('/srv/fast2')));
  assert.doesNotThrow(() => checkPoolPath(ctx('/srv/slow')));
});

test("the state dir is off limits except a pool's own default place", () => {
  assert.doesNotThrow(() => checkPoolPath(ctx('/var/lib/nimbo/pools/p')));
  assert.throws(() => checkPoolPath(ctx('/var/lib/nimbo/pools/q')), code('Conflict', /inside the daemon's state directory/));
  assert.throws(() => checkPoolPath(ctx('/var/lib/nimbo/images')), code('Conflict', /inside the daemon's state directory/));
  assert.throws(() => checkPoolPath(ctx('/var/lib/nimbo')), code('Conflict', /contains pool default/));
  assert.throws(() => checkPoolPath(ctx('/var/lib/nimbo', { pools: [] })), code('Conflict', /inside the daemon's state directory/));
  assert.throws(() => checkPoolPath(ctx('/var/lib', { pools: [] })), code('Conflict', /contains the daemon's state directory/));
  assert.throws(() => checkPoolPath(ctx('/')), code('InvalidArgument', /root directory/));
});

test('pseudo-filesystems are refused by place and by type', () => {
  for (const p of ['/proc', '/proc/1/root/srv', '/sys/fs/x', '/dev/shm/pool', '/run/pool', '/run']) {
    assert.throws(() => checkPoolPath(ctx(p)), code('InvalidArgument', /kernel or runtime state/), p);
  }
  for (const t of ['proc', 'sysfs', 'devtmpfs', 'cgroup2', 'debugfs', 'tracefs']) {
    assert.throws(() => checkPoolPath(ctx('/mnt/x', { fsType: t })), code('InvalidArgument', new RegExp(`on a ${t} pseudo-filesystem`)), t);
  }
  assert.doesNotThrow(() => checkPoolPath(ctx('/running/pool')), 'a mere prefix of /run is fine');
  assert.doesNotThrow(() => checkPoolPath(ctx('/mnt/x', { fsType: 'xfs' })));
  assert.doesNotThrow(() => checkPoolPath(ctx('/mnt/x', { fsType: null })));
});

test('mountinfo: octal escapes, the longest mount point wins, the last mount on top', () => {
  const mounts = parseMountinfo(
    [
      '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
      '23 22 0:21 / /proc rw,nosuid shared:12 - proc proc rw',
      '24 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw,size=1k',
      '30 22 0:40 / /mnt/my\\040disk rw - xfs /dev/loop0 rw',
      '31 30 0:41 / /mnt/my\\040disk rw - btrfs /dev/loop1 rw',
      '',
    ].join('\n'),
  );
  assert.deepEqual(mounts[3], { mountPoint: '/mnt/my disk', fsType: 'xfs' });
  assert.equal(fsTypeAt(mounts, '/proc/x'), 'proc');
  assert.equal(fsTypeAt(mounts, '/dev'), 'devtmpfs');
  assert.equal(fsTypeAt(mounts, '/devices'), 'ext4');
  assert.equal(fsTypeAt(mounts, '/mnt/my disk/pool'), 'btrfs');
  assert.equal(fsTypeAt([], '/x'), null);
});

test('resolvePoolPath: symlinks resolved, the missing rest kept, dangling links and files refused', async () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'nimbo-pp-')));
  try {
    mkdirSync(join(dir, 'real'));
    symlinkSync(join(dir, 'real'), join(dir, 'link'));
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling'));
    symlinkSync('/proc', join(dir, 'proc'));
    writeFileSync(join(dir, 'file'), '');
    assert.equal(await resolvePoolPath(join(dir, 'link')), join(dir, 'real'));
    assert.equal(await resolvePoolPath(join(dir, 'link/new/deeper/')), join(dir, 'real/new/deeper'));
    assert.equal(await resolvePoolPath(`${dir}/real/../link/./x`), join(dir, 'real/x'));
    assert.equal(await resolvePoolPath(join(dir, 'proc/nimbo-x')), '/proc/nimbo-x');
    await assert.rejects(resolvePoolPath(join(dir, 'dangling')), code('InvalidArgument', /symbolic link to nothing/));
    await assert.rejects(resolvePoolPath(join(dir, 'dangling/sub')), code('InvalidArgument', /symbolic link to nothing/));
    await assert.rejects(resolvePoolPath(join(dir, 'file')), code('InvalidArgument', /is not a directory/));
    await assert.rejects(resolvePoolPath(join(dir, 'file/sub')), code('InvalidArgument', /is not a directory/));
    await assert.rejects(resolvePoolPath('relative/pool'), code('InvalidArgument', /absolute/));
    symlinkSync(join(dir, 'loop2'), join(dir, 'loop1'));
    symlinkSync(join(dir, 'loop1'), join(dir, 'loop2'));
    await assert.rejects(resolvePoolPath(join(dir, 'loop1/x')), code('InvalidArgument', /loop of symbolic links/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
