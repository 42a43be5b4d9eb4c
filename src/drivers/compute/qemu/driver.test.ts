import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QemuDriver } from './driver.js';
import { FAKE_QEMU_BINARY, FakeQemuExec } from './fake-qemu.js';
import { runPaths } from './run-paths.js';
import { waitForSerial } from './serial-relay.js';
import type { VmSpec } from '../types.js';
import { NimboError } from '../../../lib/errors.js';

function setup(mode: 'acpi' | 'deaf' = 'acpi', attachSerial = false) {
  const dir = mkdtempSync(join(tmpdir(), 'qh1-drv-'));
  const exec = new FakeQemuExec(mode);
  const driver = new QemuDriver({ exec, binary: FAKE_QEMU_BINARY, qmpTimeoutMs: 3000, attachSerial });
  const spec: VmSpec = {
    name: 'vm1',
    uuid: '00000000-0000-4000-8000-000000000001',
    cpus: 1,
    memoryMiB: 64,
    accelerator: 'tcg',
    boot: { kind: 'direct', kernel: '/boot/vmlinuz', cmdline: 'console=ttyS0' },
    disks: [],
    nics: [],
    runDir: join(dir, 'run', 'vm1'),
  };
  const done = () => {
    driver.close();
    exec.killAll();
    rmSync(dir, { recursive: true, force: true });
  };
  return { dir, exec, driver, spec, done };
}

test('start, state, pause/resume, refuse a second start, ACPI shutdown', async () => {
  const t = setup('acpi');
  try {
    assert.equal(await t.driver.state(t.spec.runDir), 'stopped');
    await t.driver.start(t.spec);
    assert.equal(statSync(t.spec.runDir).mode & 0o777, 0o750);
    assert.equal(await t.driver.state(t.spec.runDir), 'running');
    await t.driver.pause(t.spec.runDir);
    assert.equal(await t.driver.state(t.spec.runDir), 'paused');
    await t.driver.resume(t.spec.runDir);
    assert.equal(await t.driver.state(t.spec.runDir), 'running');
    assert.equal(await t.driver.qmp(t.spec.runDir), await t.driver.qmp(t.spec.runDir));
    await assert.rejects(t.driver.start(t.spec), (e: unknown) => e instanceof NimboError && e.code === 'Conflict');
    const t0 = Date.now();
    await t.driver.shutdown(t.spec.runDir, 5000);
    assert.ok(Date.now() - t0 < 3000, 'an ACPI-obeying guest stops before the timeout');
    assert.equal(await t.driver.state(t.spec.runDir), 'stopped');
    assert.equal(existsSync(runPaths(t.spec.runDir).pid), false);
    await t.driver.shutdown(t.spec.runDir, 100); // idempotent
  } finally {
    t.done();
  }
});

test('shutdown of a guest that ignores ACPI: hard stop after the timeout', async () => {
  const t = setup('deaf');
  try {
    await t.driver.start(t.spec);
    const pid = await t.driver.pid(t.spec.runDir);
    assert.ok(pid);
    const t0 = Date.now();
    await t.driver.shutdown(t.spec.runDir, 300);
    assert.ok(Date.now() - t0 >= 300);
    assert.equal(await t.driver.state(t.spec.runDir), 'stopped');
    assert.throws(() => process.kill(pid, 0));
  } finally {
    t.done();
  }
});

test('kill stops at once; pause of a stopped VM is a Conflict', async () => {
  const t = setup('deaf');
  try {
    await t.driver.start(t.spec);
    await t.driver.kill(t.spec.runDir);
    assert.equal(await t.driver.state(t.spec.runDir), 'stopped');
    await assert.rejects(t.driver.pause(t.spec.runDir), (e: unknown) => e instanceof NimboError && e.code === 'Conflict');
    await t.driver.kill(t.spec.runDir); // idempotent
  } finally {
    t.done();
  }
});

test('a stale pidfile naming an unrelated live process is not the VM; start cleans it', async () => {
  const t = setup('acpi');
  try {
    const p = runPaths(t.spec.runDir);
    await t.driver.start(t.spec);
    await t.driver.kill(t.spec.runDir);
    writeFileSync(p.pid, `${process.pid}\n`); // a live pid, but not a QEMU of this runDir
    writeFileSync(p.qmp, 'stale');
    assert.equal(await t.driver.state(t.spec.runDir), 'stopped');
    await t.driver.start(t.spec);
    assert.equal(await t.driver.state(t.spec.runDir), 'running');
    await t.driver.kill(t.spec.runDir);
  } finally {
    t.done();
  }
});

test('runAs: user ids resolved with id, runDir chowned; QEMU failure surfaces as HostCommandFailed', async () => {
  const t = setup('acpi');
  try {
    await t.driver.start({ ...t.spec, runAs: 'nimbo-qemu' });
    assert.deepEqual(t.exec.calls.filter((c) => c[0] === 'id'), [
      ['id', '-u', '--', 'nimbo-qemu'],
      ['id', '-g', '--', 'nimbo-qemu'],
    ]);
    const argv = t.exec.calls.find((c) => c[0] === FAKE_QEMU_BINARY)!;
    assert.equal(argv[argv.indexOf('-runas') + 1], 'nimbo-qemu');
    assert.equal(statSync(t.spec.runDir).uid, process.getuid?.());
    assert.equal(statSync(t.spec.runDir).mode & 0o7777, 0o750);
    await t.driver.kill(t.spec.runDir);
    t.exec.failStart = true;
    await assert.rejects(t.driver.start(t.spec), (e: unknown) => e instanceof NimboError && e.code === 'HostCommandFailed');
  } finally {
    t.done();
  }
});

test('runAs UID:GID (a per-VM id): no user lookup, -runas passed through, writable disks 0600, read-only ones untouched', async () => {
  const t = setup('acpi');
  // As root, a per-VM id like nimbo's; otherwise our own (chown to another uid needs root).
  const root = process.getuid?.() === 0;
  const uid = root ? 2_000_000_007 : process.getuid!();
  const gid = root ? 2_000_000_007 : process.getgid!();
  const disk = join(t.dir, 'rw.raw');
  const ro = join(t.dir, 'ro.raw');
  writeFileSync(disk, '');
  writeFileSync(ro, '');
  chmodSync(disk, 0o644);
  chmodSync(ro, 0o644);
  try {
    await t.driver.start({ ...t.spec, runAs: `${uid}:${gid}`, disks: [{ id: 'rw', path: disk, format: 'raw' }, { id: 'ro', path: ro, format: 'raw', readOnly: true }] });
    assert.deepEqual(t.exec.calls.filter((c) => c[0] === 'id'), [], 'no passwd entry needed');
    const argv = t.exec.calls.find((c) => c[0] === FAKE_QEMU_BINARY)!;
    assert.equal(argv[argv.indexOf('-runas') + 1], `${uid}:${gid}`);
    assert.deepEqual([statSync(disk).uid, statSync(disk).gid, statSync(disk).mode & 0o7777], [uid, gid, 0o600]);
    assert.equal(statSync(ro).mode & 0o7777, 0o644);
    assert.equal(statSync(ro).uid, process.getuid?.());
    const rd = statSync(t.spec.runDir);
    assert.deepEqual([rd.uid, rd.gid, rd.mode & 0o7777], [process.getuid?.(), gid, 0o750], 'the daemon\'s, with the VM\'s group');
    await t.driver.kill(t.spec.runDir);
  } finally {
    t.done();
  }
});

test('attachSerial: boots with -S, relay attached before cont, so the first output is logged', async () => {
  const t = setup('acpi', true);
  try {
    await t.driver.start(t.spec);
    const argv = t.exec.calls.find((c) => c[0] === FAKE_QEMU_BINARY)!;
    assert.ok(argv.includes('-S'));
    assert.equal(await t.driver.state(t.spec.runDir), 'running');
    const relay = t.driver.serial(t.spec.runDir);
    assert.equal(t.driver.serial(t.spec.runDir), relay);
    await waitForSerial(relay, /BOOT-START/, 2000, { includeRecent: true });
    assert.equal(readFileSync(runPaths(t.spec.runDir).serialLog, 'utf8'), 'BOOT-START\n');
    await t.driver.shutdown(t.spec.runDir, 2000);
    assert.equal(relay.isClosed, true, 'the relay of a stopped VM is closed');
  } finally {
    t.done();
  }
});

test('without attachSerial, output before anyone attaches is lost (why attachSerial exists)', async () => {
  const t = setup('acpi', false);
  try {
    await t.driver.start(t.spec);
    assert.ok(!t.exec.calls.find((c) => c[0] === FAKE_QEMU_BINARY)!.includes('-S'));
    await new Promise((r) => setTimeout(r, 100));
    const relay = t.driver.serial(t.spec.runDir);
    await relay.waitConnected(2000);
    assert.equal(relay.tail(100).length, 0);
    await t.driver.kill(t.spec.runDir);
  } finally {
    t.done();
  }
});
