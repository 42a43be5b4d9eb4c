// System test: the real tiny image (built here) boots under TCG through QemuDriver, dropped to
// nimbo-qemu, with one cold-plugged NIC; NICs are hot-plugged on per-run tap devices, seen and
// used by the guest (serial root shell, ping over the tap), and hot-unplugged again; all eight
// hot-plug root ports (functions 0-7 of slot 0x1b) are filled, shared with a hot-plugged disk.
// Needs root (-runas, ip tuntap) and the Debian packages of the tiny image. Everything is named qn-*.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RealExec } from '../../../host/exec.js';
import { buildTinyImage } from '../../../images/tiny.js';
import { renderQemuArgv } from './argv.js';
import { hotplugPortUse, type PciDeviceInfo } from './block-args.js';
import { attachDisk, detachDisk } from './block-ops.js';
import { QemuDriver } from './driver.js';
import { attachNic, detachNic, listNics } from './nic-ops.js';
import { waitForSerial, type SerialRelay } from './serial-relay.js';
import type { VmSpec } from '../types.js';

const QEMU = '/usr/bin/qemu-system-x86_64';
const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((p) => existsSync(p));
const NEEDED = [QEMU, '/usr/bin/qemu-img', '/usr/sbin/dropbear', '/usr/sbin/mke2fs', '/usr/bin/cpio', '/bin/busybox', '/dev/net/tun'];
const missing = [
  ...NEEDED.filter((p) => !existsSync(p)),
  ...(IP ? [] : ['ip (iproute2)']),
  ...(existsSync('/boot') && readdirSync('/boot').some((f) => f.startsWith('vmlinuz-')) ? [] : ['/boot/vmlinuz-*']),
];
const skip = process.getuid?.() !== 0 ? 'needs root (-runas nimbo-qemu, ip tuntap)' : missing.length ? `missing ${missing.join(', ')}` : false;
const USER = 'nimbo-qemu';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a command in the guest's serial root shell and returns its output (newlines → spaces). */
function guestShell(relay: SerialRelay) {
  let n = 0;
  return async (cmd: string, timeoutMs = 30_000): Promise<string> => {
    const k = 1000 + n++;
    // The typed line echoes `$((k+1))`, the output has the number: only the output matches.
    const p = waitForSerial(relay, new RegExp(`QN${k + 1}<([^\\n]*?)>QE`), timeoutMs);
    relay.write(`echo "QN$((${k}+1))<$( (${cmd}) 2>&1 | tr '\\n' ' ' | sed 's/ $//')>QE"\n`);
    return new RegExp(`QN${k + 1}<([^\\n]*?)>QE`).exec(await p)![1]!;
  };
}

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(300);
  }
}

test('real QEMU: NIC hot-plug/unplug seen by the guest, traffic over the tap, eight shared multifunction ports', { skip, timeout: 600_000 }, async (t) => {
  const exec = new RealExec();
  if ((await exec.run(['id', '-u', USER], { allowFailure: true })).code !== 0) {
    await exec.run(['useradd', '--system', '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
  }
  const tag = randomBytes(3).toString('hex');
  const coldTap = `qn${tag}c`;
  const hotTaps = Array.from({ length: 8 }, (_, i) => `qn${tag}h${i}`);
  const created: string[] = [];
  const mac = (i: number) => `52:54:00:c${tag.slice(0, 1)}:${tag.slice(1, 3)}:${(0x10 + i).toString(16)}`;
  const coldMac = `52:54:00:c${tag.slice(0, 1)}:${tag.slice(1, 3)}:01`;
  const subnet = `198.18.${parseInt(tag.slice(0, 2), 16)}`; // RFC 2544 test range, a random /30 of it
  const dir = await mkdtemp('/tmp/qn-nic-');
  chmodSync(dir, 0o755); // nimbo-qemu reaches its images and runDir below
  const runDir = join(dir, 'vm');
  const driver = new QemuDriver({ exec, binary: QEMU, attachSerial: true });
  const ms = (t0: number) => `${Date.now() - t0} ms`;
  try {
    // Taps as the bridge driver makes them: vnet_hdr, owned by QEMU's user (it opens hot-plugged ones after -runas).
    for (const tap of [coldTap, ...hotTaps]) {
      await exec.run([IP!, 'tuntap', 'add', 'dev', tap, 'mode', 'tap', 'vnet_hdr', 'user', USER]);
      created.push(tap);
    }
    let t0 = Date.now();
    const image = await buildTinyImage({ exec, outDir: join(dir, 'image') });
    t.diagnostic(`tiny image built in ${ms(t0)}`);
    assert.ok(image.boot.kind === 'direct');
    const root = join(dir, 'root.qcow2');
    await exec.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', image.disk, root, '256M']);
    const spec: VmSpec = {
      name: `qn-nic-${process.pid}`, uuid: '00000000-0000-4000-8000-0000000000c5', cpus: 1, memoryMiB: 256, accelerator: 'tcg',
      boot: image.boot,
      disks: [{ id: 'root', path: root, format: 'qcow2' }],
      nics: [{ id: 'cold', tap: coldTap, mac: coldMac }],
      runDir, runAs: USER,
    };
    t0 = Date.now();
    await driver.start(spec);
    const relay = driver.serial(runDir);
    await waitForSerial(relay, /NIMBO-READY/, 180_000, { includeRecent: true });
    t.diagnostic(`boot to NIMBO-READY: ${ms(t0)}`);
    const sh = guestShell(relay);
    await until('the serial root shell', 30_000, () => sh('echo up', 2000).then((o) => (o === 'up' ? o : undefined), () => undefined));
    const qmp = await driver.qmp(runDir);
    /** The guest's NICs as MAC → interface name (lo left out). */
    const guestNics = async () => {
      const out = await sh('cd /sys/class/net && for n in *; do [ "$n" = lo ] || echo "$(cat $n/address)=$n"; done');
      return new Map(out.split(' ').filter(Boolean).map((kv) => kv.split('=') as [string, string]));
    };
    const waitGuest = (what: string, ok: (m: Map<string, string>) => boolean) =>
      until(what, 60_000, async () => { const m = await guestNics(); return ok(m) ? m : undefined; });
    const portUse = async () => hotplugPortUse(await qmp.execute<{ bus: number; devices: PciDeviceInfo[] }[]>('query-pci'));

    // 0. The layout: the guest sees eight root ports as functions 0-7 of 00:1b, and the cold NIC.
    assert.equal(await sh('ls /sys/bus/pci/devices | grep -c "^0000:00:1b\\.[0-7]$"'), '8');
    assert.deepEqual([...(await guestNics()).keys()], [coldMac]);
    assert.deepEqual(await listNics(qmp), [{ id: 'cold', qdevId: 'nic-cold', mac: coldMac, netdev: 'net-cold' }]);
    await assert.rejects(detachNic(qmp, 'cold'), (e: Error & { code?: string }) => e.code === 'Conflict' && /attached at VM start/.test(e.message));
    assert.equal((await listNics(qmp)).length, 1, 'the cold NIC is still there');

    // 1. Hot-plug one NIC: the guest gets a new virtio-net interface with our MAC; traffic flows over the tap.
    t0 = Date.now();
    const att = await attachNic(qmp, { id: 'qn0', tap: hotTaps[0]!, mac: mac(0) });
    assert.deepEqual(att, { id: 'qn0', qdevId: 'nic-qn0', netdevId: 'net-qn0', port: 'hotplug0' });
    const seen = await waitGuest('the hot-plugged NIC in the guest', (m) => m.has(mac(0)));
    const ifc = seen.get(mac(0))!;
    t.diagnostic(`attach → guest sees ${ifc} (${mac(0)}) on ${att.port}: ${ms(t0)}`);
    assert.deepEqual((await portUse()).get('hotplug0'), ['nic-qn0'], 'query-pci shows the NIC behind hotplug0');
    assert.match(await sh(`readlink -f /sys/class/net/${ifc}/device`), /0000:00:1b\.0\/0000:[0-9a-f]{2}:00\.0\/virtio\d+$/);
    assert.match(await sh('dmesg | grep -i -c -E "pciehp|virtio_net|virtio-pci"'), /^[1-9]\d*$/, 'the guest kernel logged the hot-plug');
    await exec.run([IP!, 'addr', 'add', `${subnet}.1/30`, 'dev', hotTaps[0]!]);
    await exec.run([IP!, 'link', 'set', 'dev', hotTaps[0]!, 'up']);
    t0 = Date.now();
    const ping = await sh(`ip addr add ${subnet}.2/30 dev ${ifc} && ip link set ${ifc} up && ping -c 3 -W 5 ${subnet}.1 | grep -c "bytes from"`, 60_000);
    t.diagnostic(`guest → host ping over the hot-plugged NIC: ${ping} replies (${ms(t0)})`);
    assert.match(ping, /^[1-3]$/);
    assert.deepEqual((await listNics(qmp)).map((n) => [n.id, n.mac, n.port]), [['cold', coldMac, undefined], ['qn0', mac(0), 'hotplug0']]);

    // 2. Hot-unplug: the guest releases it (DEVICE_DELETED), the netdev goes, the tap is free again.
    t0 = Date.now();
    await detachNic(qmp, 'qn0');
    t.diagnostic(`detach (device_del → DEVICE_DELETED → netdev_del): ${ms(t0)}`);
    assert.deepEqual([...(await guestNics()).keys()], [coldMac]);
    assert.deepEqual((await listNics(qmp)).map((n) => n.id), ['cold']);
    assert.deepEqual((await portUse()).get('hotplug0'), []);
    await assert.rejects(detachNic(qmp, 'qn0'), (e: Error & { code?: string }) => e.code === 'NotFound');

    // 3. All eight ports, shared: a disk takes hotplug0, seven NICs hotplug1-7; a ninth device finds none.
    const diskPath = join(dir, 'qn-disk.raw');
    await exec.run(['truncate', '-s', '8M', diskPath]);
    await chown(diskPath, Number((await exec.run(['id', '-u', USER])).stdout), Number((await exec.run(['id', '-g', USER])).stdout));
    assert.equal((await attachDisk(qmp, { id: 'qn-disk', path: diskPath, format: 'raw' })).port, 'hotplug0');
    t0 = Date.now();
    const ports: string[] = [];
    for (let i = 1; i <= 7; i++) ports.push((await attachNic(qmp, { id: `qn${i}`, tap: hotTaps[i]!, mac: mac(i) })).port);
    assert.deepEqual(ports, ['hotplug1', 'hotplug2', 'hotplug3', 'hotplug4', 'hotplug5', 'hotplug6', 'hotplug7']);
    await waitGuest('seven hot-plugged NICs in the guest', (m) => m.size === 8);
    t.diagnostic(`7 NICs on hotplug1-7 seen by the guest: ${ms(t0)}`);
    assert.match(await sh('ls /sys/block'), /\bvdb\b/);
    for (let i = 4; i < 8; i++) {
      const name = (await guestNics()).get(mac(i));
      assert.ok(name, `NIC on hotplug${i} seen by the guest`);
      assert.match(await sh(`readlink -f /sys/class/net/${name}/device`), new RegExp(`0000:00:1b\\.${i}/`), `hotplug${i} is function ${i} of 00:1b`);
    }
    const use = await portUse();
    assert.deepEqual([...use].map(([p, d]) => `${p}:${d.join(',')}`), [
      'hotplug0:disk-qn-disk', 'hotplug1:nic-qn1', 'hotplug2:nic-qn2', 'hotplug3:nic-qn3', 'hotplug4:nic-qn4', 'hotplug5:nic-qn5', 'hotplug6:nic-qn6', 'hotplug7:nic-qn7',
    ]);
    await assert.rejects(attachNic(qmp, { id: 'qn0', tap: hotTaps[0]!, mac: mac(0) }), /no free hot-plug port for NIC qn0: all 8/);

    // 4. Unplug from functions 7 and 4; the freed port is reused (lowest first).
    t0 = Date.now();
    await detachNic(qmp, 'qn7');
    await detachNic(qmp, 'qn4');
    t.diagnostic(`two detaches: ${ms(t0)}`);
    const after = await waitGuest('the two NICs gone', (m) => m.size === 6);
    assert.equal(after.has(mac(7)) || after.has(mac(4)), false);
    assert.equal((await attachNic(qmp, { id: 'qn0', tap: hotTaps[0]!, mac: mac(0) })).port, 'hotplug4');
    await waitGuest('qn0 back in the guest', (m) => m.has(mac(0)));
    assert.deepEqual((await listNics(qmp)).map((n) => `${n.id}@${n.port ?? 'pcie.0'}`),
      ['cold@pcie.0', 'qn1@hotplug1', 'qn2@hotplug2', 'qn3@hotplug3', 'qn0@hotplug4', 'qn5@hotplug5', 'qn6@hotplug6']);

    // 5. Everything hot-plugged goes; the cold NIC stays.
    t0 = Date.now();
    for (const id of ['qn0', 'qn1', 'qn2', 'qn3', 'qn5', 'qn6']) await detachNic(qmp, id);
    await detachDisk(qmp, 'qn-disk');
    t.diagnostic(`six NIC detaches + one disk detach: ${ms(t0)}`);
    assert.deepEqual([...(await guestNics()).keys()], [coldMac]);
    assert.deepEqual((await listNics(qmp)).map((n) => n.id), ['cold']);
    assert.ok([...(await portUse()).values()].every((d) => d.length === 0));
  } finally {
    await driver.kill(runDir).catch(() => {});
    driver.close();
    for (const tap of created) await exec.run([IP!, 'tuntap', 'del', 'dev', tap, 'mode', 'tap'], { allowFailure: true });
    await rm(dir, { recursive: true, force: true });
  }
});

test('real QEMU, CPUs not started yet (-S, ports not enumerated): disks and NICs still get distinct ports', { skip, timeout: 120_000 }, async () => {
  const exec = new RealExec();
  const tag = randomBytes(3).toString('hex');
  const taps = [`qn${tag}p0`, `qn${tag}p1`];
  const created: string[] = [];
  const dir = await mkdtemp('/tmp/qn-early-');
  const runDir = join(dir, 'vm');
  const driver = new QemuDriver({ exec, binary: QEMU });
  try {
    for (const tap of taps) {
      await exec.run([IP!, 'tuntap', 'add', 'dev', tap, 'mode', 'tap', 'vnet_hdr']);
      created.push(tap);
    }
    const kernel = join('/boot', readdirSync('/boot').find((f) => f.startsWith('vmlinuz-'))!);
    const disk = join(dir, 'd.raw');
    await exec.run(['truncate', '-s', '1M', disk]);
    const spec: VmSpec = {
      name: `qn-early-${process.pid}`, uuid: '00000000-0000-4000-8000-0000000000c6', cpus: 1, memoryMiB: 64, accelerator: 'tcg',
      boot: { kind: 'direct', kernel, cmdline: 'console=ttyS0' }, disks: [], nics: [], runDir,
    };
    await mkdir(runDir, { recursive: true });
    await exec.run(renderQemuArgv(spec, { binary: QEMU, paused: true })); // the guest never runs: nothing numbers the ports' buses
    const qmp = await driver.qmp(runDir);
    assert.equal((await attachNic(qmp, { id: 'p0', tap: taps[0]!, mac: '52:54:00:c6:00:01' })).port, 'hotplug0');
    // query-pci cannot see behind the ports yet (secondary bus 0): only QOM knows they are taken.
    assert.ok([...hotplugPortUse(await qmp.execute<{ bus: number; devices: PciDeviceInfo[] }[]>('query-pci')).values()].every((d) => d.length === 0));
    // attachDisk picks from query-pci alone (it would take hotplug0 here), so the disk's port is given.
    assert.equal((await attachDisk(qmp, { id: 'qn-d', path: disk, format: 'raw', port: 'hotplug1' })).port, 'hotplug1');
    assert.equal((await attachNic(qmp, { id: 'p1', tap: taps[1]!, mac: '52:54:00:c6:00:02' })).port, 'hotplug2');
    await assert.rejects(attachNic(qmp, { id: 'p2', tap: taps[1]!, mac: '52:54:00:c6:00:03', port: 'hotplug1' }), /hotplug1 is in use by disk-qn-d/);
    assert.deepEqual((await listNics(qmp)).map((n) => `${n.id}@${n.port}`), ['p0@hotplug0', 'p1@hotplug2']);
  } finally {
    await driver.kill(runDir).catch(() => {});
    driver.close();
    for (const tap of created) await exec.run([IP!, 'tuntap', 'del', 'dev', tap, 'mode', 'tap'], { allowFailure: true });
    await rm(dir, { recursive: true, force: true });
  }
});
