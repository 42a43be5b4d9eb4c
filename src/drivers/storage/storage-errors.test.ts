import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostCommandError, NimboError } from '../../lib/errors.js';
import { copyArgv } from './block-transfer.js';
import { explainFailure, isOutOfSpace, lockProbeArgv } from './storage-errors.js';
import { progressPercent } from './transfer.js';

test('a full pool becomes a clear error that keeps the host command detail', () => {
  const e = new HostCommandError(['qemu-img', 'convert'], 1, 'qemu-img: error while writing at byte 0: No space left on device');
  assert.equal(isOutOfSpace(e), true);
  const out = explainFailure(e, 'p', 'importing volume "v"') as NimboError;
  assert.equal(out.code, 'HostCommandFailed');
  assert.equal(out.message, 'pool "p" ran out of space while importing volume "v"; nothing was kept');
  assert.match(JSON.stringify(out.detail), /No space left/);
  assert.equal((explainFailure(Object.assign(new Error('x'), { code: 'ENOSPC' }), 'p', 'a') as NimboError).code, 'HostCommandFailed');
});

test('an image lock becomes Conflict; other errors pass unchanged', () => {
  const locked = new HostCommandError(['qemu-img', 'snapshot'], 1, 'Failed to get "write" lock');
  assert.equal((explainFailure(locked, 'p', 'x') as NimboError).code, 'Conflict');
  const other = new HostCommandError(['qemu-img'], 1, 'boom');
  assert.equal(explainFailure(other, 'p', 'x'), other);
});

test('lock probes: qemu-img info for qcow2, a read-write qemu-io open for raw', () => {
  assert.deepEqual(lockProbeArgv('/v.qcow2', 'qcow2'), ['qemu-img', 'info', '--output=json', '-f', 'qcow2', '/v.qcow2']);
  assert.deepEqual(lockProbeArgv('/v.raw', 'raw'), ['qemu-io', '-f', 'raw', '-c', 'info', '/v.raw']);
});

test('copies: sparse (reflinked where possible) cp for raw to raw, else qemu-img convert', () => {
  assert.deepEqual(copyArgv('/a', 'raw', '/b', 'raw'), ['cp', '--reflink=auto', '--sparse=always', '--', '/a', '/b']);
  assert.deepEqual(copyArgv('/a', 'qcow2', '/b', 'raw'), ['qemu-img', 'convert', '-p', '-f', 'qcow2', '-O', 'raw', '/a', '/b']);
});

test('progress maps written bytes into a range', () => {
  assert.equal(progressPercent(0, 100, 1, 99), 1);
  assert.equal(progressPercent(50, 100, 1, 99), 50);
  assert.equal(progressPercent(500, 100, 1, 99), 99);
  assert.equal(progressPercent(5, 0, 1, 99), 1);
});
