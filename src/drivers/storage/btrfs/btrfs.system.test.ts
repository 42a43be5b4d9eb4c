// btrfs specifics beyond the contract: a container that made its own subvolumes (and read-only
// snapshots) inside a filesystem volume, and leftovers of an interrupted process. Needs root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { RealExec } from '../../../host/exec.js';
import { makeLoopFs } from '../testing/loop-fs.js';
import { BtrfsStorageDriver } from './btrfs-driver.js';

const exec = new RealExec();
const skip = process.getuid?.() !== 0 ? 'needs root (loop device, mount, btrfs subvolumes)' : false;

test('deleting a filesystem volume removes subvolumes a container nested in it; initPool sweeps stale staging', { skip }, async () => {
  const fs = await makeLoopFs(exec, 'btrfs', 256 * 1024 * 1024, `qs${randomBytes(2).toString('hex')}`);
  try {
    const path = join(fs.dir, 'pool');
    const dr = new BtrfsStorageDriver({ name: 'qs-b', driver: 'btrfs', path, options: {} }, { exec });
    await dr.initPool();
    await dr.createVolume({ name: 'ct', kind: 'filesystem', sizeBytes: 0 });
    const root = (await dr.volumePath('ct')).path;
    await mkdir(join(root, 'var', 'lib'), { recursive: true });
    await exec.run(['btrfs', 'subvolume', 'create', join(root, 'var', 'lib', 'machines')]);
    await exec.run(['btrfs', 'subvolume', 'snapshot', '-r', join(root, 'var', 'lib', 'machines'), join(root, 'snap-ro')]);
    await dr.createSnapshot('ct', 's1');
    await dr.deleteVolume('ct');
    assert.deepEqual(await dr.listVolumes(), []);
    // A subvolume and a plain dir left in .tmp by a process that died before this one started.
    const stale = join(path, '.tmp', 'stale-sub');
    await exec.run(['btrfs', 'subvolume', 'create', stale]);
    await mkdir(join(path, '.tmp', 'stale-dir'));
    for (const p of [stale, join(path, '.tmp', 'stale-dir')]) await utimes(p, new Date(2000, 0, 1), new Date(2000, 0, 1));
    await dr.initPool();
    assert.deepEqual(await readdir(join(path, '.tmp')), []);
    await dr.deletePool();
    const subs = (await exec.run(['btrfs', 'subvolume', 'list', fs.dir])).stdout.trim();
    assert.equal(subs, '', 'no subvolume left');
  } finally {
    await fs.cleanup();
  }
});
