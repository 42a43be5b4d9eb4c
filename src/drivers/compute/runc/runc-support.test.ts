import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeExec } from '../../../host/fake-exec.js';
import { delegateCgroup, devNumbers, unifiedCgroupMount, wholeDiskOf } from './runc-support.js';

test('devNumbers: the kernel encoding of st_dev (small and large majors/minors)', () => {
  assert.deepEqual(devNumbers(0xfe00), { major: 254, minor: 0 });
  assert.deepEqual(devNumbers(0x801), { major: 8, minor: 1 });
  assert.deepEqual(devNumbers(0x10301), { major: 259, minor: 1 });
  // major 300, minor 70000: minor's high bits sit above bit 20, major's above bit 32.
  const dev = (70000n & 0xffn) | ((300n & 0xfffn) << 8n) | ((70000n & ~0xffn) << 12n) | ((300n & ~0xfffn) << 32n);
  assert.deepEqual(devNumbers(dev), { major: 300, minor: 70000 });
});

test('wholeDiskOf: a partition becomes its disk; no block device -> findmnt source; nothing -> null', async () => {
  const sys = mkdtempSync(join(tmpdir(), 'rcs-sys-'));
  try {
    // The device of this test's own tmpdir, laid out as a partition (sdz1 of sdz) in a fake /sys.
    const { statSync } = await import('node:fs');
    const d = devNumbers(statSync(tmpdir(), { bigint: true }).dev);
    const disk = join(sys, 'devices/block/sdz');
    mkdirSync(join(disk, 'sdz1'), { recursive: true });
    writeFileSync(join(disk, 'dev'), '8:400\n');
    writeFileSync(join(disk, 'sdz1/partition'), '1\n');
    mkdirSync(join(sys, 'dev/block'), { recursive: true });
    symlinkSync(join(disk, 'sdz1'), join(sys, 'dev/block', `${d.major}:${d.minor}`));
    const exec = new FakeExec();
    assert.deepEqual(await wholeDiskOf(exec, tmpdir(), sys), { major: 8, minor: 400 });
    assert.deepEqual(exec.lines(), []);
    // A whole disk stays itself.
    rmSync(join(sys, 'dev/block', `${d.major}:${d.minor}`));
    symlinkSync(disk, join(sys, 'dev/block', `${d.major}:${d.minor}`));
    assert.deepEqual(await wholeDiskOf(exec, tmpdir(), sys), d);
    // Unknown device (anonymous, e.g. btrfs): the mount source decides; a non-device source is null.
    rmSync(join(sys, 'dev/block', `${d.major}:${d.minor}`));
    const none = new FakeExec().on(['findmnt'], { stdout: 'tmpfs\n' });
    assert.equal(await wholeDiskOf(none, tmpdir(), sys), null);
    assert.deepEqual(none.lines(), [`findmnt -n -o SOURCE -T ${tmpdir()}`]);
  } finally {
    rmSync(sys, { recursive: true, force: true });
  }
});

test('unifiedCgroupMount / delegateCgroup: no cgroup2 under the mount -> null, nothing chowned; bad paths refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rcs-cg-'));
  try {
    assert.equal(await unifiedCgroupMount(dir), null);
    assert.equal(await delegateCgroup('/nimbo-x/ct1', { uid: 1000000, gid: 1000000 }, dir), null);
    for (const bad of ['nimbo/ct1', '/nimbo/../ct1', '/a b']) {
      await assert.rejects(delegateCgroup(bad, { uid: 1, gid: 1 }, dir), /bad cgroup path/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
