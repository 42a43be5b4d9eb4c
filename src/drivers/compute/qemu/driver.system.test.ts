import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RealExec } from '../../../host/exec.js';
import { QemuDriver } from './driver.js';
import { writeBusyboxInitramfs } from './initramfs-fixture.js';
import { runPaths } from './run-paths.js';
import { waitForSerial, type SerialRelay } from './serial-relay.js';
import type { VmSpec } from '../types.js';

// A real VM under TCG: Debian's kernel + a busybox initramfs, QEMU dropped to nimbo-qemu.
// Needs root (tap, -runas, chown), qemu-system-x86, linux-image-amd64 and busybox-static.
const QEMU = '/usr/bin/qemu-system-x86_64';
const kernel = existsSync('/boot') ? readdirSync('/boot').find((f) => /^vmlinuz-/.test(f)) : undefined;
const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : !existsSync(QEMU)
      ? `needs ${QEMU} (qemu-system-x86)`
      : !kernel
        ? 'needs /boot/vmlinuz-* (linux-image-amd64)'
        : !existsSync('/bin/busybox')
          ? 'needs /bin/busybox (busybox-static)'
          : false;

const USER = 'nimbo-qemu';

/** True when the process has exited (a zombie counts: PID 1 reaps the daemonized QEMU). */
function isGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** Pids of processes whose command line mentions `needle`. */
function processesMentioning(needle: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return !isGone(Number(d)) && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}

test('real QEMU under TCG: boot marker over serial, console input, pause/resume, hard stop', { skip, timeout: 180_000 }, async () => {
  const exec = new RealExec();
  if ((await exec.run(['id', '-u', USER], { allowFailure: true })).code !== 0) {
    // The product's default QEMU user; created once and kept (not a per-test object).
    await exec.run(['useradd', '--system', '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
  }
  const uid = Number((await exec.run(['id', '-u', USER])).stdout.trim());
  const dir = mkdtempSync('/tmp/qh1-sys-');
  chmodSync(dir, 0o755); // nimbo-qemu must reach its runDir below
  const runDir = join(dir, 'vm');
  const tap = `qh1t${process.pid % 100000}`;
  const hasIp = existsSync('/usr/sbin/ip') || existsSync('/sbin/ip');
  const driver = new QemuDriver({ exec, binary: QEMU, attachSerial: true });
  let relay: SerialRelay | undefined;
  try {
    writeBusyboxInitramfs(join(dir, 'initrd.cpio'), 'HELLO-NIMBO');
    await exec.run(['qemu-img', 'create', '-q', '-f', 'qcow2', join(dir, 'data.qcow2'), '32M']);
    if (hasIp) await exec.run(['ip', 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    const spec: VmSpec = {
      name: 'qh1-sys',
      uuid: '00000000-0000-4000-8000-0000000000a1',
      cpus: 1,
      memoryMiB: 256,
      accelerator: 'tcg',
      boot: { kind: 'direct', kernel: join('/boot', kernel!), initrd: join(dir, 'initrd.cpio'), cmdline: 'console=ttyS0 panic=-1' },
      disks: [{ id: 'data', path: join(dir, 'data.qcow2'), format: 'qcow2' }],
      nics: hasIp ? [{ id: 'eth0', tap, mac: '52:54:00:71:68:01' }] : [],
      runDir,
      runAs: USER,
    };
    const t0 = Date.now();
    await driver.start(spec);
    const startedMs = Date.now() - t0;
    relay = driver.serial(runDir); // attached before the guest's first instruction (-S, then cont)
    await waitForSerial(relay, /HELLO-NIMBO/, 90_000, { includeRecent: true });
    assert.match(readFileSync(runPaths(runDir).serialLog, 'utf8').slice(0, 200), /Linux version/, 'the log starts at the first kernel line');
    const bootMs = Date.now() - t0;
    console.log(`# qemu daemonized in ${startedMs} ms; HELLO-NIMBO after ${bootMs} ms`);

    const pid = (await driver.pid(runDir))!;
    assert.ok(pid > 1);
    assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), new RegExp(`^Uid:\\s+${uid}\\s`, 'm'), 'QEMU runs as nimbo-qemu');
    assert.equal(statSync(runDir).uid, uid);
    assert.equal(statSync(join(dir, 'data.qcow2')).uid, uid);
    assert.ok(existsSync(runPaths(runDir).vnc), 'VNC socket exists');

    relay.write('ping\n');
    assert.equal(await waitForSerial(relay, /ECHO:ping/, 30_000), 'ECHO:ping');

    assert.equal(await driver.state(runDir), 'running');
    await driver.pause(runDir);
    assert.equal(await driver.state(runDir), 'paused');
    await driver.resume(runDir);
    assert.equal(await driver.state(runDir), 'running');
    relay.write('pong\n');
    await waitForSerial(relay, /ECHO:pong/, 30_000);

    // The initramfs has no ACPI handling: system_powerdown is ignored, so the hard stop runs.
    const s0 = Date.now();
    await driver.shutdown(runDir, 2000);
    const stopMs = Date.now() - s0;
    console.log(`# shutdown (ACPI ignored, then quit) took ${stopMs} ms`);
    assert.ok(stopMs >= 2000);
    assert.equal(await driver.state(runDir), 'stopped');
    assert.ok(isGone(pid), `QEMU pid ${pid} is gone (or a zombie awaiting PID 1's reaping)`);
    assert.deepEqual(processesMentioning(runDir), []);
    assert.equal(existsSync(runPaths(runDir).qmp), false);
  } finally {
    await relay?.close();
    await driver.kill(runDir).catch(() => {});
    driver.close();
    if (hasIp) await exec.run(['ip', 'link', 'del', tap], { allowFailure: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
