import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pinArgvs } from './cpu-pin.js';

const vcpus = [{ 'cpu-index': 1, 'thread-id': 502 }, { 'cpu-index': 0, 'thread-id': 501 }];

test('pinning argv: every QEMU thread to the cpuset; a dedicated slice pins vCPU n to its n-th core', () => {
  assert.deepEqual(pinArgvs(500, [2, 3], vcpus, true), [
    ['taskset', '--all-tasks', '--pid', '--cpu-list', '2-3', '500'],
    ['taskset', '--pid', '--cpu-list', '2', '501'],
    ['taskset', '--pid', '--cpu-list', '3', '502'],
  ]);
  assert.deepEqual(pinArgvs(500, [0, 2], [], false), [['taskset', '--all-tasks', '--pid', '--cpu-list', '0,2', '500']]);
});

test('pinning argv: vCPUs sharing one thread (single-threaded TCG) stay on the whole slice; bad input is refused', () => {
  assert.deepEqual(pinArgvs(9, [1, 2], [{ 'cpu-index': 0, 'thread-id': 9 }, { 'cpu-index': 1, 'thread-id': 9 }], true), [['taskset', '--all-tasks', '--pid', '--cpu-list', '1-2', '9']]);
  assert.throws(() => pinArgvs(0, [1], [], false));
  assert.throws(() => pinArgvs(5, [], [], false));
});
