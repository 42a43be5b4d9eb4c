// The dir driver's own logic on a temp directory, with host commands faked (no root needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeExec } from '../../../host/fake-exec.js';
import { NimboError } from '../../../lib/errors.js';
import { DirStorageDriver } from './dir-driver.js';

const MiB = 1024 * 1024;

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'qs-dir-unit-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('raw pools are refused on a filesystem without reflinks (probed once, recorded)', () => withDir(async (dir) => {
  const exec = new FakeExec().on(['cp', '--reflink=always'], { code: 1, stderr: 'cp: failed to clone: Operation not supported' });
  const dr = new DirStorageDriver({ name: 'p', driver: 'dir', path: join(dir, 'pool'), options: { format: 'raw' } }, { exec });
  await assert.rejects(dr.initPool(), (e: NimboError) => e.code === 'InvalidArgument' && /needs a filesystem with reflinks/.test(e.message));
  assert.deepEqual(await readdir(dir), [], 'a refused pool leaves nothing');
  const ok = new DirStorageDriver({ name: 'p', driver: 'dir', path: join(dir, 'pool'), options: {} }, { exec });
  await ok.initPool();
  const marker = JSON.parse(await readFile(join(dir, 'pool', 'nimbo-pool.json'), 'utf8'));
  assert.equal(marker.reflink, false);
  assert.equal(marker.format, 'qcow2');
  assert.equal((await ok.capabilities()).linkedClonesWithSnapshots, false);
}));

test('raw volumes: sparse create, grow, rename, delete; filesystem volumes side by side', () => withDir(async (dir) => {
  const exec = new FakeExec(); // cp --reflink succeeds: a "reflink" filesystem
  const dr = new DirStorageDriver({ name: 'p', driver: 'dir', path: join(dir, 'pool'), options: { format: 'raw' } }, { exec });
  await dr.initPool();
  const v = await dr.createVolume({ name: 'a', kind: 'block', sizeBytes: 64 * MiB });
  assert.deepEqual([v.virtualSizeBytes, v.allocatedBytes, v.format], [64 * MiB, 0, 'raw']);
  assert.equal((await stat(join(dir, 'pool', 'volumes', 'a.raw'))).size, 64 * MiB);
  await dr.resizeVolume('a', 96 * MiB);
  assert.equal((await dr.volumeInfo('a')).virtualSizeBytes, 96 * MiB);
  await assert.rejects(dr.createVolume({ name: 'a', kind: 'filesystem', sizeBytes: 0 }), /already exists/);
  await dr.createVolume({ name: 'f', kind: 'filesystem', sizeBytes: 8 * MiB });
  assert.deepEqual(await dr.volumePath('f'), { type: 'directory', path: join(dir, 'pool', 'filesystems', 'f') });
  await dr.renameVolume('a', 'b');
  assert.deepEqual(await dr.volumePath('b'), { type: 'file', path: join(dir, 'pool', 'volumes', 'b.raw'), format: 'raw' });
  const u = await dr.poolUsage();
  assert.equal(u.provisionedBytes, 104 * MiB);
  assert.equal(u.volumes, 2);
  await assert.rejects(dr.deletePool(), /still holds 2 volume\(s\) \(b, f\)/);
  await dr.deleteVolume('b');
  await dr.deleteVolume('f');
  assert.deepEqual(await readdir(join(dir, 'pool', '.tmp')), []);
  await dr.deletePool();
  assert.deepEqual(await readdir(dir), []);
}));

test('an uninitialised or mismatched pool is reported, not guessed', () => withDir(async (dir) => {
  const exec = new FakeExec();
  const dr = new DirStorageDriver({ name: 'p', driver: 'dir', path: join(dir, 'pool'), options: {} }, { exec });
  await assert.rejects(dr.listVolumes(), (e: NimboError) => e.code === 'NotFound');
  await dr.initPool();
  const raw = new DirStorageDriver({ name: 'p', driver: 'dir', path: join(dir, 'pool'), options: { format: 'raw' } }, { exec });
  await assert.rejects(raw.initPool(), (e: NimboError) => e.code === 'Conflict' && /qcow2/.test(e.message));
  await assert.rejects(raw.listVolumes(), (e: NimboError) => e.code === 'Conflict');
}));

test('initPool sweeps staging left by an earlier process, never this process\'s own', () => withDir(async (dir) => {
  const exec = new FakeExec();
  const dr = new DirStorageDriver({ name: 'p', driver: 'dir', path: join(dir, 'pool'), options: {} }, { exec });
  await dr.initPool();
  const tmp = join(dir, 'pool', '.tmp');
  await writeFile(join(tmp, 'old.qcow2'), 'x');
  await utimes(join(tmp, 'old.qcow2'), new Date(2000, 0, 1), new Date(2000, 0, 1));
  await writeFile(join(tmp, 'mine.qcow2'), 'x');
  await dr.initPool();
  assert.deepEqual(await readdir(tmp), ['mine.qcow2']);
}));
