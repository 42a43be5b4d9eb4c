import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeExec } from '../../host/fake-exec.js';
import { STORAGE_DRIVER_NAMES, createStorageDriver, parsePoolOptions } from './index.js';

test('drivers are chosen by name', () => {
  assert.deepEqual(STORAGE_DRIVER_NAMES, ['dir', 'btrfs']);
  const exec = new FakeExec();
  assert.equal(createStorageDriver({ name: 'p', driver: 'dir', path: '/srv/p', options: {} }, { exec }).spec.options.format, 'qcow2');
  assert.equal(createStorageDriver({ name: 'p', driver: 'btrfs', path: '/srv/p', options: {} }, { exec }).spec.options.format, 'raw');
  assert.throws(() => createStorageDriver({ name: 'p', driver: 'zfs' as 'dir', path: '/srv/p', options: {} }, { exec }), /not known: use one of dir, btrfs/);
  assert.throws(() => createStorageDriver({ name: 'p', driver: 'btrfs', path: '/srv/p', options: { format: 'qcow2' } }, { exec }), /raw volumes/);
});

test('pool options are parsed per driver', () => {
  assert.deepEqual(parsePoolOptions('dir', { format: 'raw' }), { format: 'raw' });
  assert.deepEqual(parsePoolOptions('dir', {}), {});
  assert.throws(() => parsePoolOptions('dir', { format: 'vmdk' }), /format option/);
  assert.throws(() => parsePoolOptions('dir', { size: '1G' }), /not known to the dir driver \(known: format\)/);
  assert.throws(() => parsePoolOptions('btrfs', { format: 'raw' }), /not known to the btrfs driver/);
});
