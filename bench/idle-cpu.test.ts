import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStat, used, type Snapshot } from './idle-cpu.js';

// A real line's shape: pid (comm) state ppid ... utime(14) stime(15) cutime(16) cstime(17) ...
const line = (comm: string, ut: number, st: number, cut: number, cst: number) =>
  `4242 (${comm}) S 1 4242 4242 0 -1 4194560 1200 0 0 0 ${ut} ${st} ${cut} ${cst} 20 0 11 0 5000 1000000 5000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0`;

test('parseStat reads utime+stime and cutime+cstime in seconds', () => {
  assert.deepEqual(parseStat(line('node', 150, 50, 30, 20), 100), { own: 2, children: 0.5 });
});

test('parseStat counts fields from the last parenthesis (a name with spaces and ")")', () => {
  assert.deepEqual(parseStat(line('qemu) x (y', 7, 3, 0, 0), 100), { own: 0.1, children: 0 });
});

test('parseStat refuses a line that is not /proc/PID/stat', () => {
  assert.throws(() => parseStat('garbage', 100), /not a \/proc\/PID\/stat line/);
});

test('used: deltas for processes in both snapshots, from 0 for new ones, daemon children apart', () => {
  const a: Snapshot = new Map([
    [1, { kind: 'daemon', cpu: { own: 10, children: 4 } }],
    [2, { kind: 'vm', cpu: { own: 100, children: 0 } }],
    [3, { kind: 'container', cpu: { own: 1, children: 0 } }], // exits in the window: not counted
  ]);
  const b: Snapshot = new Map([
    [1, { kind: 'daemon', cpu: { own: 10.5, children: 5 } }],
    [2, { kind: 'vm', cpu: { own: 103, children: 0 } }],
    [4, { kind: 'container', cpu: { own: 0.25, children: 0 } }],
  ]);
  const u = used(a, b);
  assert.equal(u.daemon, 0.5);
  assert.equal(u.daemonChildren, 1);
  assert.equal(u.vm, 3);
  assert.equal(u.container, 0.25);
  assert.equal(u.helper, 0);
  assert.deepEqual(u.procs, { daemon: 1, container: 1, vm: 1, helper: 0 });
});

test('used: a pid reused by another kind of process counts as new', () => {
  const a: Snapshot = new Map([[7, { kind: 'helper', cpu: { own: 50, children: 0 } }]]);
  const b: Snapshot = new Map([[7, { kind: 'container', cpu: { own: 0.5, children: 0 } }]]);
  assert.equal(used(a, b).container, 0.5);
});
