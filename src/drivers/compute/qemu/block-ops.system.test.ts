// System test: the real tiny image (built here) boots under TCG through QemuDriver, dropped to
// nimbo-qemu; disks are hot-plugged, written from the guest's serial root shell, resized,
// throttled, detached, and the running VM is snapshotted with its RAM and restored.
// Needs root (-runas, chown) and the Debian packages of the tiny image. Everything is named qb-*.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RealExec } from '../../../host/exec.js';
import { buildTinyImage } from '../../../images/tiny.js';
import { attachDisk, detachDisk, getDisk, listDisks, resizeDisk, setThrottle } from './block-ops.js';
import { QemuDriver } from './driver.js';
import { waitForSerial, type SerialRelay } from './serial-relay.js';
import { deleteVmState, listVmStates, loadVmState, saveVmState } from './vm-state.js';
import type { VmSpec } from '../types.js';

const QEMU = '/usr/bin/qemu-system-x86_64';
const NEEDED = [QEMU, '/usr/bin/qemu-img', '/usr/sbin/dropbear', '/usr/sbin/mke2fs', '/usr/bin/cpio', '/bin/busybox'];
const missing = [
  ...NEEDED.filter((p) => !existsSync(p)),
  ...(existsSync('/boot') && readdirSync('/boot').some((f) => f.startsWith('vmlinuz-')) ? [] : ['/boot/vmlinuz-*']),
];
const skip = process.getuid?.() !== 0 ? 'needs root (-runas nimbo-qemu, chown of disk images)' : missing.length ? `missing ${missing.join(', ')}` : false;
const USER = 'nimbo-qemu';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a command in the guest's serial root shell and returns its output (newlines → spaces). */
function guestShell(relay: SerialRelay) {
  let n = 0;
  return async (cmd: string, timeoutMs = 30_000): Promise<string> => {
    const k = 1000 + n++;
    // The typed line echoes `$((k+1))`, the output has the number: only the output matches.
    const p = waitForSerial(relay, new RegExp(`QB${k + 1}<([^\\n]*?)>QE`), timeoutMs);
    relay.write(`echo "QB$((${k}+1))<$( (${cmd}) 2>&1 | tr '\\n' ' ' | sed 's/ $//')>QE"\n`);
    return new RegExp(`QB${k + 1}<([^\\n]*?)>QE`).exec(await p)![1]!;
  };
}

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

test('real QEMU: hot-plug, guest I/O, online resize, throttle, detach, stateful snapshot', { skip, timeout: 300_000 }, async (t) => {
  const exec = new RealExec();
  if ((await exec.run(['id', '-u', USER], { allowFailure: true })).code !== 0) {
    await exec.run(['useradd', '--system', '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
  }
  const dir = await mkdtemp('/tmp/qb-blk-');
  chmodSync(dir, 0o755); // nimbo-qemu reaches its images and runDir below
  const runDir = join(dir, 'vm');
  const driver = new QemuDriver({ exec, binary: QEMU, attachSerial: true });
  const ms = (t0: number) => `${Date.now() - t0} ms`;
  const img = async (name: string, fmt: string, size: string) => {
    const p = join(dir, name);
    await exec.run(['qemu-img', 'create', '-q', '-f', fmt, p, size]);
    await chown(p, Number((await exec.run(['id', '-u', USER])).stdout), Number((await exec.run(['id', '-g', USER])).stdout));
    return p;
  };
  /** 512-byte sector `n` of a qcow2 image, read on the host once QEMU let go of it. */
  const hostSector = async (path: string, n: number) => {
    const out = join(dir, `sector-${n}.raw`);
    // qemu-img dd's count includes the skipped blocks.
    await exec.run(['qemu-img', 'dd', '-f', 'qcow2', '-O', 'raw', 'bs=512', `skip=${n}`, `count=${n + 1}`, `if=${path}`, `of=${out}`]);
    return (await readFile(out)).toString('latin1').replace(/\0+$/, '');
  };
  try {
    let t0 = Date.now();
    const image = await buildTinyImage({ exec, outDir: join(dir, 'image') });
    t.diagnostic(`tiny image built in ${ms(t0)}`);
    assert.ok(image.boot.kind === 'direct');
    const root = join(dir, 'root.qcow2');
    await exec.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', image.disk, root, '256M']);
    await chown(root, Number((await exec.run(['id', '-u', USER])).stdout), 0);
    const roRaw = join(dir, 'qb-ro.raw');
    await exec.run(['truncate', '-s', '1M', roRaw]);
    chmodSync(roRaw, 0o644);
    const spec: VmSpec = {
      name: `qb-blk-${process.pid}`, uuid: '00000000-0000-4000-8000-0000000000b5', cpus: 1, memoryMiB: 256, accelerator: 'tcg',
      boot: image.boot,
      disks: [{ id: 'root', path: root, format: 'qcow2' }, { id: 'qb-ro', path: roRaw, format: 'raw', readOnly: true }],
      nics: [], runDir, runAs: USER,
    };
    t0 = Date.now();
    await driver.start(spec);
    const relay = driver.serial(runDir);
    await waitForSerial(relay, /NIMBO-READY/, 120_000, { includeRecent: true });
    t.diagnostic(`boot to NIMBO-READY: ${ms(t0)}`);
    const sh = guestShell(relay);
    await until('the serial root shell', 30_000, () => sh('echo up', 2000).then((o) => (o === 'up' ? o : undefined), () => undefined));
    const qmp = await driver.qmp(runDir);
    const blocks = async () => (await sh('ls /sys/block')).split(' ').filter((b) => b.startsWith('vd'));
    assert.deepEqual(await blocks(), ['vda', 'vdb']);

    // 1. Hot-plug a qcow2 disk; the guest sees a new virtio disk and writes a pattern to it.
    const dataPath = await img('qb-data.qcow2', 'qcow2', '32M');
    t0 = Date.now();
    const att = await attachDisk(qmp, { id: 'qb-data', path: dataPath, format: 'qcow2' });
    const vd = await until('the hot-plugged disk in the guest', 30_000, async () => (await blocks()).find((b) => !['vda', 'vdb'].includes(b)));
    t.diagnostic(`attach → guest sees /dev/${vd} on ${att.port}: ${ms(t0)}`);
    assert.equal(att.port, 'hotplug0');
    const pattern = `QB-PATTERN-${process.pid}`;
    assert.equal(await sh(`printf ${pattern} | dd of=/dev/${vd} bs=512 count=1 conv=sync,fsync 2>/dev/null && echo written`), 'written');
    assert.equal(await sh(`dd if=/dev/${vd} bs=512 count=1 iflag=direct 2>/dev/null | head -c ${pattern.length}`), pattern);

    // 2. Online resize of the hot-plugged disk and of the root disk; the guest sees both sizes.
    t0 = Date.now();
    assert.equal(await resizeDisk(qmp, 'qb-data', 64 << 20), 64 << 20);
    await resizeDisk(qmp, 'root', 320 << 20);
    await until('new sizes in the guest', 20_000, async () => ((await sh(`cat /sys/block/${vd}/size /sys/block/vda/size`)) === '131072 655360' ? true : undefined));
    t.diagnostic(`online resize seen by the guest: ${ms(t0)}`);
    await assert.rejects(resizeDisk(qmp, 'qb-data', 16 << 20), /shrinking is refused/);

    // 3. I/O limits, live: read back from query-block, and felt by the guest's O_DIRECT reads.
    const readMiB2 = async () => {
      const s = Date.now();
      await sh(`dd if=/dev/${vd} of=/dev/null bs=64k count=32 iflag=direct 2>/dev/null; echo done`, 60_000);
      return Date.now() - s;
    };
    const free = await readMiB2();
    await setThrottle(qmp, 'qb-data', { iops_rd: 1000, iops_wr: 50, bps_rd: 512 * 1024, bps_wr: 1_000_000 });
    assert.deepEqual((await getDisk(qmp, 'qb-data')).throttle, { iops_rd: 1000, iops_wr: 50, bps_rd: 524288, bps_wr: 1_000_000 });
    const limited = await readMiB2();
    t.diagnostic(`2 MiB O_DIRECT read: ${free} ms unlimited, ${limited} ms at 512 KiB/s`);
    assert.ok(limited >= 2500 && limited > 2 * free, `throttled read took ${limited} ms (unlimited ${free} ms)`);
    await setThrottle(qmp, 'qb-data', {});
    assert.deepEqual((await getDisk(qmp, 'qb-data')).throttle, { iops_rd: 0, iops_wr: 0, bps_rd: 0, bps_wr: 0 });

    // 4. Detach: the guest releases the device; the data is in the image; a re-attach reads it back.
    t0 = Date.now();
    await detachDisk(qmp, 'qb-data');
    t.diagnostic(`detach (device_del → DEVICE_DELETED → blockdev-del): ${ms(t0)}`);
    assert.deepEqual(await blocks(), ['vda', 'vdb']);
    assert.deepEqual((await listDisks(qmp)).map((d) => d.id), ['root', 'qb-ro']);
    assert.equal(await hostSector(dataPath, 0), pattern);
    await assert.rejects(detachDisk(qmp, 'root'), /attached at VM start/);
    await attachDisk(qmp, { id: 'qb-data', path: dataPath, format: 'qcow2' });
    const vd2 = await until('the re-attached disk', 30_000, async () => (await blocks()).find((b) => !['vda', 'vdb'].includes(b)));
    assert.equal(await sh(`dd if=/dev/${vd2} bs=512 count=1 iflag=direct 2>/dev/null | head -c ${pattern.length}`), pattern);

    // 5. A writable raw disk blocks stateful snapshots (clear refusal), read-only raw does not.
    const rawPath = await img('qb-raw.raw', 'raw', '8M');
    await attachDisk(qmp, { id: 'qb-raw', path: rawPath, format: 'raw' });
    await assert.rejects(saveVmState(qmp, 'qb-snap'), /writable disk qb-raw \(raw\) is not qcow2/);
    await detachDisk(qmp, 'qb-raw');

    // 6. Stateful snapshot: RAM (tmpfs file, shell variable) and disks go back; the VM runs on.
    relay.write('QBV=one\n'); // a variable of the console shell itself (the sh() commands run in subshells)
    assert.equal(await sh(`echo alpha > /tmp/qb-marker; printf DISK-A | dd of=/dev/${vd2} bs=512 seek=1 conv=sync,fsync 2>/dev/null; echo set`), 'set');
    t0 = Date.now();
    const saved = await saveVmState(qmp, 'qb-snap');
    t.diagnostic(`snapshot-save: ${saved.durationMs} ms, vmstate ${saved.vmStateSize} bytes on ${saved.vmstateDisk}, disks ${saved.disks.join(',')}`);
    assert.deepEqual(saved.disks, ['root', 'qb-data']);
    assert.equal(saved.vmstateDisk, 'root');
    assert.ok(saved.vmStateSize > 1 << 20);
    assert.equal(await driver.state(runDir), 'running', 'the VM runs on after the save');
    relay.write('QBV=two\n');
    assert.equal(await sh(`echo beta > /tmp/qb-marker; printf DISK-B | dd of=/dev/${vd2} bs=512 seek=1 conv=sync,fsync 2>/dev/null; echo changed`), 'changed');
    assert.equal(await sh('cat /tmp/qb-marker; echo $QBV'), 'beta two');
    const loaded = await loadVmState(qmp, 'qb-snap', { disks: saved.disks });
    t.diagnostic(`snapshot-load: ${loaded.durationMs} ms`);
    assert.equal(loaded.running, true);
    assert.equal(await sh('cat /tmp/qb-marker; echo $QBV'), 'alpha one');
    assert.equal(await sh(`dd if=/dev/${vd2} bs=512 skip=1 count=1 iflag=direct 2>/dev/null | head -c 6`), 'DISK-A');
    assert.equal(await driver.state(runDir), 'running');
    assert.deepEqual((await listVmStates(qmp)).map((s) => [s.tag, s.vmstateDisk, s.disks]), [['qb-snap', 'root', ['root', 'qb-data']]]);
    await deleteVmState(qmp, 'qb-snap');
    assert.deepEqual(await listVmStates(qmp), []);

    await detachDisk(qmp, 'qb-data');
    assert.equal(await hostSector(dataPath, 1), 'DISK-A', 'the attached disk was rolled back with the RAM');
  } finally {
    await driver.kill(runDir).catch(() => {});
    driver.close();
    await rm(dir, { recursive: true, force: true });
  }
});
