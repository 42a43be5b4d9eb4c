import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RealExec } from '../../../host/exec.js';
import { NimboError } from '../../../lib/errors.js';
import { silentLogger } from '../../../lib/log.js';
import type { DriverEvent, InstanceSpec } from '../instance-driver.js';
import { listDisks } from './block-ops.js';
import { writeBusyboxInitramfs } from './initramfs-fixture.js';
import { QemuInstanceDriver } from './instance-driver.js';
import { volumeDiskId } from './instance-ops.js';
import { waitForSerial, type SerialRelay } from './serial-relay.js';

// The QEMU instance driver against a real QEMU under TCG (Debian's kernel + a busybox initramfs):
// start with a hot-plugged volume, console, cheap status, the guest powering itself off (a requested
// exit), a killed QEMU (a crash), destroy. Needs root (-runas a per-VM uid, chown), qemu-system-x86,
// qemu-utils, genisoimage, linux-image-amd64 and busybox-static.
const QEMU = '/usr/bin/qemu-system-x86_64';
const kernel = existsSync('/boot') ? readdirSync('/boot').find((f) => /^vmlinuz-/.test(f)) : undefined;
const missing =
  process.getuid?.() !== 0 ? 'needs root'
    : !existsSync(QEMU) ? `needs ${QEMU} (qemu-system-x86)`
      : !kernel ? 'needs /boot/vmlinuz-* (linux-image-amd64)'
        : !existsSync('/bin/busybox') ? 'needs /bin/busybox (busybox-static)'
          : !existsSync('/usr/bin/genisoimage') ? 'needs genisoimage'
            : undefined;
// In CI a missing tool or privilege fails the test instead of skipping it.
const skip = process.env.CI === 'true' ? false : missing ?? false;

// A per-VM id as core allocates them, from the top of the range (no passwd entry); per run, so parallel runs do not share it.
const VM_ID = 2_000_000_000 + 65_535 - 200 - (process.pid % 100);

async function until<T>(fn: () => T | undefined, what: string, ms: number): Promise<T> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await new Promise((r) => setTimeout(r, 50))) {
    const v = fn();
    if (v !== undefined) return v;
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

test('real QEMU: start with a hot-plugged volume, console, status, guest poweroff = requested exit, kill = crash, destroy', { skip, timeout: 300_000 }, async () => {
  assert.equal(missing, undefined, missing);
  const exec = new RealExec();
  const dir = mkdtempSync(`/tmp/qid-sys-${process.pid}-`);
  chmodSync(dir, 0o755); // the VM's uid must reach its disks below (as in pools)
  const uuid = `00000000-0000-4000-8000-${String(process.pid).padStart(12, '0')}`;
  // No NICs here (nic-ops.system.test.ts covers taps): a network port that would be a mistake to call.
  const network = { createTap: async () => assert.fail('no taps'), deleteTap: async () => assert.fail('no taps'), tapExists: async () => false, applyLimits: async () => assert.fail('no taps') };
  const driver = new QemuInstanceDriver({ exec, log: silentLogger(), network }, { qemuUser: 'nimbo-qemu', accelerator: 'tcg', qemu: { exec, binary: QEMU } });
  const events: DriverEvent[] = [];
  driver.watch((ev) => events.push(ev));
  const spec: InstanceSpec = {
    uuid,
    name: 'qid-sys',
    hostIds: { runDir: join(dir, 'run', uuid), instanceDir: join(dir, 'instances', uuid) },
    driverConfig: { qemuId: VM_ID },
    cpus: 1,
    memoryBytes: 256 * 2 ** 20,
    boot: { kind: 'direct', kernel: join('/boot', kernel ?? 'none'), initrd: join(dir, 'initrd.cpio'), cmdline: 'console=ttyS0 panic=-1' },
    root: { pool: 'default', volume: `root-${uuid}`, path: join(dir, 'root.qcow2'), format: 'qcow2' },
    nics: [],
    volumes: [{ pool: 'default', volume: 'data1', path: join(dir, 'data1.qcow2'), format: 'qcow2', limits: { iopsRead: 0, iopsWrite: 0, bytesRead: 0, bytesWrite: 0 } }],
    networks: new Map(),
  };
  let boots = 0;
  const boot = async (): Promise<{ relay: SerialRelay; pid: number }> => {
    // A marker of its own per boot: the console log keeps the earlier boots' output.
    const marker = `HELLO-QID-${++boots}`;
    writeBusyboxInitramfs(join(dir, 'initrd.cpio'), marker);
    const t0 = Date.now();
    await driver.start(spec);
    const handle = await driver.console(spec);
    assert.equal(handle.kind, 'serial');
    const relay = (handle as unknown as { relay: SerialRelay }).relay;
    await waitForSerial(relay, new RegExp(marker), 120_000, { includeRecent: true });
    console.log(`# booted to the marker in ${Date.now() - t0} ms`);
    return { relay, pid: (await driver.status(spec)).pid! };
  };
  try {
    for (const f of ['root.qcow2', 'data1.qcow2']) await exec.run(['qemu-img', 'create', '-q', '-f', 'qcow2', join(dir, f), '32M']);
    await driver.prepare(spec, { seed: { 'meta-data': `instance-id: ${uuid}\n` }, root: 'new' });
    assert.equal(statSync(spec.hostIds.instanceDir).mode & 0o777, 0o711);
    assert.ok(existsSync(join(spec.hostIds.instanceDir, 'seed.iso')));

    let { relay, pid } = await boot();
    assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), new RegExp(`^Uid:\\s+${VM_ID}\\s`, 'm'), 'QEMU runs as the VM\'s own uid');
    const vol = statSync(spec.volumes[0]!.path);
    assert.deepEqual({ uid: vol.uid, mode: vol.mode & 0o777 }, { uid: VM_ID, mode: 0o600 }, 'the volume is the VM uid\'s alone');
    const disks = await listDisks(await driver.qemu.qmp(spec.hostIds.runDir));
    const data = disks.find((d) => d.id === volumeDiskId('default', 'data1'));
    assert.ok(data?.port, `the volume sits on a hot-plug port: ${JSON.stringify(disks)}`);
    const st = await driver.status(spec, { usage: true });
    assert.equal(st.state, 'running');
    assert.ok(st.usage && st.usage.memoryBytes > 0 && st.usage.pids > 1, JSON.stringify(st.usage));
    assert.ok(st.usage.disk && st.usage.disk.readBytes >= 0 && st.usage.disk.reads >= 0, `QEMU's blockstats: ${JSON.stringify(st.usage)}`);
    await driver.pause(spec);
    assert.equal((await driver.status(spec)).state, 'paused');
    await driver.resume(spec);
    relay.write('ping\n');
    await waitForSerial(relay, /ECHO:ping/, 30_000);
    assert.deepEqual(events, [], 'what the driver was asked to do is no event');

    relay.write('poweroff\n'); // the guest powers itself off
    const off = await until(() => events.shift(), 'the exit event of a guest poweroff', 60_000);
    assert.deepEqual(off, { type: 'exited', uuid, exitCode: null, requested: true });
    assert.equal((await driver.status(spec)).state, 'stopped');
    await assert.rejects(driver.console(spec), (e: unknown) => e instanceof NimboError && e.code === 'Conflict');
    assert.match(driver.consoleLog(spec, 64 * 1024), /ECHO:ping/, 'the console log outlives the VM');

    ({ relay, pid } = await boot());
    process.kill(pid, 'SIGKILL'); // a crash, as far as the driver can tell
    const crash = await until(() => events.shift(), 'the exit event of a killed QEMU', 30_000);
    assert.deepEqual(crash, { type: 'exited', uuid, exitCode: null, requested: false });

    ({ relay, pid } = await boot());
    await driver.destroy(spec, []);
    await until(() => (existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').length > 0 ? undefined : true), 'QEMU to be gone', 10_000);
    assert.equal(existsSync(spec.hostIds.runDir), false);
    assert.equal(existsSync(spec.hostIds.instanceDir), false);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(events, [], 'a destroy is no event');
  } finally {
    await driver.destroy(spec, []).catch(() => undefined);
    driver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
