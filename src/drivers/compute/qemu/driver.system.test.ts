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
import { probeAs, reachable } from './access-probe.js';

const pick = (st: { uid: number; gid: number; mode: number }) => ({ uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 });

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

// A per-VM id as nimbo allocates them (core/vm-ids.ts), from the top of the range: no passwd entry.
const VM_ID = 2_000_000_000 + 65_535 - (process.pid % 100);
const OTHER_VM_ID = VM_ID - 100;

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
  const uid = VM_ID;
  const dir = mkdtempSync('/tmp/qh1-sys-');
  chmodSync(dir, 0o755); // the VM's uid must reach its disk below (as hot-plugged volumes in pools)
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
      runAs: `${VM_ID}:${VM_ID}`,
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
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    assert.match(status, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'), 'QEMU runs as the VM\'s own uid');
    assert.match(status, new RegExp(`^Gid:\\s+${uid}\\s`, 'm'));
    assert.match(status, new RegExp(`^Groups:\\s+${uid}\\s*$`, 'm'), 'no supplementary group but its own');
    // The run dir is root's, entered by the VM's group only; the writable disk is the VM uid's alone.
    assert.deepEqual(pick(statSync(runDir)), { uid: 0, gid: uid, mode: 0o750 });
    assert.deepEqual(pick(statSync(join(dir, 'data.qcow2'))), { uid, gid: uid, mode: 0o600 });
    assert.ok(existsSync(runPaths(runDir).vnc), 'VNC socket exists');
    // Another VM's QEMU uid (and nobody) reaches none of it: not the disk, the run dir or its sockets and logs.
    const p = runPaths(runDir);
    const targets = [join(dir, 'data.qcow2'), runDir, p.qmp, p.vnc, p.serial, p.serialLog, p.log, p.pid];
    for (const who of [OTHER_VM_ID, 65534]) {
      const ro = await probeAs(who, who, targets);
      assert.deepEqual(reachable(ro), [], `uid ${who}: ${JSON.stringify(ro)}`);
      assert.equal(ro[join(dir, 'data.qcow2')], 'EACCES', 'the disk is there, but refused');
      assert.deepEqual(reachable(await probeAs(who, who, [join(dir, 'data.qcow2')], true)), []);
    }
    // The VM's own uid can open its disk (hot-plug and reopen need it) but not the run dir's sockets.
    assert.deepEqual(reachable(await probeAs(uid, uid, [join(dir, 'data.qcow2'), p.qmp, p.serialLog])), [join(dir, 'data.qcow2')]);

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
