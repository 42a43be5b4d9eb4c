import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NimboError } from '../../../lib/errors.js';
import { silentLogger } from '../../../lib/log.js';
import type { Nic } from '../../../shared/api-types.js';
import type { DriverEvent, InstanceSpec } from '../instance-driver.js';
import { FAKE_VM_BINARY, FakeVmExec, journal } from './fake-qemu-vm.js';
import { DRIVERS, DriverRegistry } from '../registry.js';
import { QEMU_CAPABILITIES } from './capabilities.js';
import { createQemuInstanceDriver, QemuInstanceDriver } from './instance-driver.js';
import type { QemuNetworkPort, QemuPorts } from './ports.js';

const NO_LIMITS = { iopsRead: 0, iopsWrite: 0, bytesRead: 0, bytesWrite: 0 };
const UUID = '6c1f2a3b-0000-4000-8000-00000000000a';

/** A fake network port: taps in a set, every call journalled. */
function fakeNetwork(file: string, taps: Set<string>): QemuNetworkPort {
  return {
    async createTap(tap, network, owner) {
      journal(file, `createTap ${tap} ${network} ${owner ?? '-'}`);
      taps.add(tap);
    },
    async deleteTap(tap) {
      journal(file, `deleteTap ${tap}`);
      taps.delete(tap);
    },
    async tapExists(tap) {
      return taps.has(tap);
    },
    async applyLimits(nic) {
      journal(file, `applyLimits ${nic.tap}`);
    },
  };
}

const nic = (i: number, hotplug = false): Nic => ({
  name: `eth${i}`, network: 'default', mac: `52:54:00:00:00:0${i}`, address: `10.9.0.${10 + i}/24`, tap: `tstap${i}`, ...(hotplug ? { hotplug: true } : {}),
});

function setup(opts: { mode?: 'acpi' | 'deaf'; qemuId?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'qid-'));
  const file = join(dir, 'journal');
  writeFileSync(file, '');
  const exec = new FakeVmExec(file, opts.mode ?? 'acpi');
  const taps = new Set<string>();
  const ports: QemuPorts = { exec, log: silentLogger(), network: fakeNetwork(file, taps) };
  const driver = new QemuInstanceDriver(ports, { qemuUser: 'nimbo-qemu', accelerator: 'tcg', qemu: { exec, binary: FAKE_VM_BINARY, qmpTimeoutMs: 3000 }, sysRoot: join(dir, 'sys'), exitWaitMs: 2000 });
  const events: DriverEvent[] = [];
  driver.watch((ev) => events.push(ev));
  for (const f of ['root.qcow2', 'data1.qcow2']) writeFileSync(join(dir, f), '');
  // Legacy shape (no qemuId): QEMU runs as the shared user, which the fake `id` resolves to the test's own ids.
  const spec: InstanceSpec = {
    uuid: UUID,
    name: 'vm1',
    hostIds: { runDir: join(dir, 'run', UUID), instanceDir: join(dir, 'instances', UUID) },
    driverConfig: opts.qemuId !== undefined ? { qemuId: opts.qemuId } : {},
    cpus: 1,
    memoryBytes: 64 * 2 ** 20,
    boot: { kind: 'direct', kernel: '/boot/vmlinuz', cmdline: 'console=ttyS0' },
    root: { pool: 'default', volume: `root-${UUID}`, path: join(dir, 'root.qcow2'), format: 'qcow2' },
    nics: [{ ...nic(0), ingressBps: 10_000_000 }, nic(1, true)],
    volumes: [{ pool: 'default', volume: 'data1', path: join(dir, 'data1.qcow2'), format: 'qcow2', limits: { ...NO_LIMITS, iopsRead: 100 } }],
    networks: new Map([['default', { name: 'default', gateway: '10.9.0.1', mode: 'nat' }]]),
  };
  const lines = () => readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const pid = () => Number(readFileSync(join(spec.hostIds.runDir, 'qemu.pid'), 'utf8'));
  const done = () => {
    driver.close();
    exec.killAll();
    rmSync(dir, { recursive: true, force: true });
  };
  return { dir, file, exec, taps, driver, spec, events, lines, pid, done };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(fn: () => T | undefined, what: string, ms = 5000): Promise<T> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(20)) {
    const v = fn();
    if (v !== undefined) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

const isConflict = (re: RegExp) => (e: unknown) => e instanceof NimboError && e.code === 'Conflict' && re.test(e.message);

test('start: taps and limits, QEMU, console relay before the CPUs run, then volumes and hot-plug NICs on hot-plug ports', async () => {
  const t = setup();
  try {
    await t.driver.start(t.spec);
    const lines = t.lines();
    const at = (re: RegExp) => {
      const i = lines.findIndex((l) => re.test(l));
      assert.ok(i >= 0, `journal has ${String(re)}:\n${lines.join('\n')}`);
      return i;
    };
    const order = [
      at(/^createTap tstap0 default -$/), at(/^applyLimits tstap0$/), at(/^createTap tstap1 default -$/),
      at(/^exec fake-vm-qemu/), at(/^serial connected$/), at(/^qmp cont$/),
      at(/^exec chown nimbo-qemu: .*data1\.qcow2$/), at(/^qmp blockdev-add$/), at(/^qmp block_set_io_throttle$/),
      at(/^qmp netdev_add$/),
    ];
    assert.deepEqual(order, [...order].sort((a, b) => a - b), `order of start:\n${lines.join('\n')}`);
    assert.ok(!lines.includes('applyLimits tstap1'), 'a tap made this moment without limits needs no tc');
    const argv = t.exec.calls.find((c) => c[0] === FAKE_VM_BINARY)!;
    assert.equal(argv[argv.indexOf('-runas') + 1], 'nimbo-qemu', 'a record without qemuId runs as the shared QEMU user');
    assert.ok(argv.some((a) => a.includes('ifname=tstap0')), 'the boot NIC is given at start');
    assert.ok(!argv.some((a) => a.includes('ifname=tstap1')), 'the hot-plug NIC is not');
    assert.equal((await t.driver.status(t.spec)).state, 'running');
    assert.deepEqual(t.events, [], 'the start\'s own RESUME is no event');
    await t.driver.start(t.spec); // already running: adopted, nothing started twice
    assert.equal(t.exec.calls.filter((c) => c[0] === FAKE_VM_BINARY).length, 1);
  } finally {
    t.done();
  }
});

test('status is cheap: no spawn, no new QMP connection, no query once events told the state; usage from /proc', async () => {
  const t = setup();
  try {
    assert.deepEqual(await t.driver.status(t.spec), { state: 'stopped', pid: null });
    await t.driver.start(t.spec);
    const count = (re: RegExp) => t.lines().filter((l) => re.test(l)).length;
    const before = { exec: t.exec.calls.length, connects: count(/^qmp connect$/), queries: count(/^qmp query-status$/) };
    for (let i = 0; i < 20; i++) assert.equal((await t.driver.status(t.spec)).state, 'running');
    await t.driver.pause(t.spec);
    for (let i = 0; i < 5; i++) assert.equal((await t.driver.status(t.spec)).state, 'paused');
    await t.driver.resume(t.spec);
    const st = await t.driver.status(t.spec, { usage: true });
    assert.equal(st.state, 'running');
    assert.equal(st.pid, t.pid());
    assert.ok(st.usage && st.usage.memoryBytes > 0 && st.usage.pids >= 1 && st.usage.cpuSeconds >= 0, JSON.stringify(st.usage));
    // Disk counters: QEMU's blockstats of every backend, summed, over the same connection.
    assert.deepEqual(st.usage.disk, { readBytes: 4196, writeBytes: 512, reads: 3, writes: 1 });
    assert.deepEqual({ exec: t.exec.calls.length, connects: count(/^qmp connect$/), queries: count(/^qmp query-status$/) }, before);
    assert.deepEqual(t.events, [], 'pause and resume asked of the driver are no events');
  } finally {
    t.done();
  }
});

test('events: the guest powering off is a requested exit; a killed QEMU and a host signal are not; QEMU pausing itself is', async () => {
  const t = setup();
  try {
    await t.driver.start(t.spec);
    process.kill(t.pid(), 'SIGUSR2'); // QEMU stops the VM by itself (e.g. an I/O error)
    await until(() => (t.events.length ? true : undefined), 'paused event');
    assert.deepEqual(t.events.splice(0), [{ type: 'paused', uuid: UUID }]);
    assert.equal((await t.driver.status(t.spec)).state, 'paused');
    await t.driver.resume(t.spec);

    process.kill(t.pid(), 'SIGUSR1'); // the guest powers off
    await until(() => (t.events.length ? true : undefined), 'exit event');
    assert.deepEqual(t.events.splice(0), [{ type: 'exited', uuid: UUID, exitCode: null, requested: true }]);
    assert.equal((await t.driver.status(t.spec)).state, 'stopped');
    await assert.rejects(t.driver.console(t.spec), isConflict(/instance vm1 has no running console/));

    await t.driver.start(t.spec);
    process.kill(t.pid(), 'SIGKILL');
    await until(() => (t.events.length ? true : undefined), 'crash event');
    assert.deepEqual(t.events.splice(0), [{ type: 'exited', uuid: UUID, exitCode: null, requested: false }]);

    await t.driver.start(t.spec);
    process.kill(t.pid(), 'SIGTERM'); // QEMU's SHUTDOWN with guest:false
    await until(() => (t.events.length ? true : undefined), 'host-signal event');
    assert.deepEqual(t.events.splice(0), [{ type: 'exited', uuid: UUID, exitCode: null, requested: false }]);
  } finally {
    t.done();
  }
});

test('a stop or kill the driver was asked for is no event; a guest ignoring ACPI is stopped hard after the timeout', async () => {
  const t = setup({ mode: 'deaf' });
  try {
    await t.driver.start(t.spec);
    const t0 = Date.now();
    await t.driver.stop(t.spec, { timeoutMs: 300, force: false });
    assert.ok(Date.now() - t0 >= 300);
    assert.equal((await t.driver.status(t.spec)).state, 'stopped');
    await t.driver.start(t.spec);
    const pid = t.pid();
    await t.driver.stop(t.spec, { timeoutMs: 30_000, force: true });
    assert.throws(() => process.kill(pid, 0));
    t.exec.mode = 'acpi';
    await t.driver.start(t.spec);
    await t.driver.stop(t.spec, { timeoutMs: 5000, force: false }); // SHUTDOWN guest:true, but asked for
    await sleep(300);
    assert.deepEqual(t.events, []);
    await t.driver.stop(t.spec, { timeoutMs: 100, force: false }); // stopped already: fine
  } finally {
    t.done();
  }
});

test('destroy: kills QEMU, deletes every tap, removes the run and instance dirs; no event', async () => {
  const t = setup();
  try {
    await t.driver.prepare(t.spec, { seed: { 'meta-data': 'instance-id: x\n' }, root: 'new' });
    assert.ok(existsSync(join(t.spec.hostIds.instanceDir, 'seed.iso')));
    await t.driver.start(t.spec);
    const pid = t.pid();
    await t.driver.destroy(t.spec, t.spec.nics);
    assert.throws(() => process.kill(pid, 0));
    assert.deepEqual(t.lines().filter((l) => l.startsWith('deleteTap')), ['deleteTap tstap0', 'deleteTap tstap1']);
    assert.equal(existsSync(t.spec.hostIds.runDir), false);
    assert.equal(existsSync(t.spec.hostIds.instanceDir), false);
    await sleep(300);
    assert.deepEqual(t.events, []);
    await t.driver.destroy(t.spec, t.spec.nics); // again: nothing left, no error
  } finally {
    t.done();
  }
});

test('a start that fails after QEMU started leaves no QEMU behind', async () => {
  const t = setup();
  try {
    t.exec.failing.add('chown'); // the volume cannot be handed to the VM
    await assert.rejects(t.driver.start(t.spec), /chown failed/);
    assert.equal((await t.driver.status(t.spec)).state, 'stopped');
    const pid = Number(t.exec.pids[0]);
    await until(() => {
      try {
        process.kill(pid, 0);
        return undefined;
      } catch {
        return true;
      }
    }, 'the fake QEMU to exit');
    await sleep(200);
    assert.deepEqual(t.events, []);
  } finally {
    t.done();
  }
});

test('NICs and volumes on a running VM: tap made for the VM uid and hot-plugged; boot NICs stay; volumes change hands', async () => {
  const t = setup();
  try {
    t.spec.volumes = [];
    await t.driver.start(t.spec);
    const extra = nic(2, true);
    await t.driver.plugNic(t.spec, extra, true);
    assert.ok(t.lines().includes('createTap tstap2 default -'));
    assert.ok(t.lines().filter((l) => l === 'qmp netdev_add').length === 2);
    await assert.rejects(t.driver.unplugNic(t.spec, nic(0), true), isConflict(/NIC eth0 of vm1 was there at boot and cannot be unplugged live: stop the instance first/));
    await t.driver.unplugNic(t.spec, extra, true);
    assert.ok(t.lines().includes('deleteTap tstap2'));
    const vol = { pool: 'default', volume: 'data1', path: join(t.dir, 'data1.qcow2'), format: 'qcow2' as const, limits: NO_LIMITS };
    assert.deepEqual(await t.driver.plugVolume(t.spec, vol, true), {});
    await t.driver.setVolumeLimits(t.spec, vol, { ...NO_LIMITS, bytesRead: 2 ** 20 });
    await t.driver.resizeVolume(t.spec, vol, 512 << 20);
    await t.driver.unplugVolume(t.spec, vol, true);
    const cmds = t.lines().filter((l) => /^(exec chown|qmp (blockdev-add|device_add|device_del|block_resize|block_set_io_throttle))/.test(l)).map((l) => l.replace(/ \/.*$/, ''));
    assert.deepEqual(cmds.slice(-9), [
      'exec chown nimbo-qemu:', 'qmp blockdev-add', 'qmp blockdev-add', 'qmp device_add', 'qmp block_set_io_throttle', // plugged with its limits
      'qmp block_set_io_throttle', 'qmp block_resize', 'qmp device_del', 'exec chown 0:0',
    ]);
    await t.driver.checkUnplugVolume();
  } finally {
    t.done();
  }
});

test('snapshots: raw disks are refused with today\'s messages before anything runs; stopped VMs use qemu-img, running ones QEMU', async () => {
  const t = setup();
  try {
    const raw = { ...t.spec, root: { ...t.spec.root, format: 'raw' as const } };
    await assert.rejects(t.driver.snapshot(raw, { name: 's1', stateful: false }, {}), isConflict(/^the root disk of vm1 is raw: instance snapshots need qcow2 \(use the default pool\)$/));
    const rawVol = { ...t.spec, volumes: [{ ...t.spec.volumes[0]!, format: 'raw' as const }] };
    await assert.rejects(t.driver.snapshot(rawVol, { name: 's1', stateful: false }, {}), isConflict(/^volume default\/data1 is raw: instance snapshots need qcow2 volumes; detach it or snapshot it in its pool$/));
    await assert.rejects(t.driver.snapshot(t.spec, { name: 's1', stateful: true }, {}), isConflict(/^instance vm1 is not running: a stateful snapshot saves a running VM's memory$/));
    assert.equal(t.exec.calls.length, 0);
    const cold = await t.driver.snapshot(t.spec, { name: 's1', stateful: false }, {});
    assert.deepEqual(cold, { stateful: false, disks: [{ id: 'root', path: t.spec.root.path }, { id: 'default/data1', path: t.spec.volumes[0]!.path }] });
    assert.deepEqual(t.exec.calls.map((c) => c.slice(0, 4).join(' ')), ['qemu-img snapshot -c s1', 'qemu-img snapshot -c s1']);
    await t.driver.restoreSnapshot(t.spec, 's1', cold);
    await t.driver.deleteSnapshot(t.spec, 's1', cold);
    assert.deepEqual(t.exec.calls.slice(2).map((c) => c.slice(0, 3).join(' ')), ['qemu-img snapshot -a', 'qemu-img snapshot -a', 'qemu-img snapshot -d', 'qemu-img snapshot -d']);

    await t.driver.start(t.spec);
    await assert.rejects(t.driver.restoreSnapshot(t.spec, 's1', cold), isConflict(/^instance vm1 is running: stop it to restore a disk-only snapshot \(or take a --stateful one\)$/));
    const live = await t.driver.snapshot(t.spec, { name: 's2', stateful: true }, {});
    assert.ok(live.vmDisks && live.vmDisks.length >= 2, JSON.stringify(live));
    assert.ok(t.lines().includes('qmp snapshot-save'));
    await t.driver.restoreSnapshot(t.spec, 's2', live);
    await t.driver.deleteSnapshot(t.spec, 's2', live);
    assert.ok(t.lines().includes('qmp snapshot-load') && t.lines().includes('qmp snapshot-delete'));
    assert.deepEqual(t.events, []);
  } finally {
    t.done();
  }
});

test('taps of a VM with its own uid: made for that uid; a hot-plug tap of another owner is made again, a boot tap is kept', async () => {
  const t = setup({ qemuId: 2_000_000_007 });
  try {
    t.taps.add('tstap0');
    t.taps.add('tstap1');
    for (const [tap, owner] of [['tstap0', '1999'], ['tstap1', '1999']]) {
      mkdirSync(join(t.dir, 'sys', 'class', 'net', tap), { recursive: true });
      writeFileSync(join(t.dir, 'sys', 'class', 'net', tap, 'owner'), `${owner}\n`);
    }
    const extra = nic(2, true);
    await (t.driver as unknown as { devices: { ensureTaps(r: InstanceSpec, n: Nic[]): Promise<void> } }).devices.ensureTaps(t.spec, [...t.spec.nics, extra]);
    assert.deepEqual(t.lines().filter((l) => /Tap/.test(l)), ['deleteTap tstap1', 'createTap tstap1 default 2000000007', 'createTap tstap2 default 2000000007']);
    assert.equal(t.driver.vmSpec(t.spec).runAs, '2000000007:2000000007');
  } finally {
    t.done();
  }
});

test('plan allocates the VM uid and refuses container limits first; release gives it back; exec is refused; the console log outlives the VM', async () => {
  const t = setup();
  try {
    const ids: string[] = [];
    const base = { uuid: UUID, name: 'vm1', image: 'tiny', allocateId: async (k: string) => (ids.push(`alloc ${k}`), 2_000_000_009), releaseId: async (k: string, id: number) => void ids.push(`release ${k} ${id}`) };
    await assert.rejects(t.driver.plan({ ...base, pids: 10 }), (e: unknown) => e instanceof NimboError && e.code === 'InvalidArgument' && e.message === 'pids, cpuWeight, swap and the disk rates are container limits');
    assert.deepEqual(ids, []);
    const cfg = await t.driver.plan(base);
    assert.deepEqual(cfg, { qemuId: 2_000_000_009 });
    await t.driver.release({ ...t.spec, driverConfig: cfg }, base);
    await t.driver.release(t.spec, base); // legacy record: nothing to give back
    assert.deepEqual(ids, ['alloc vm-uid', 'release vm-uid 2000000009']);
    await assert.rejects(t.driver.exec(t.spec), isConflict(/^vm1 is a VM: use ssh or the console$/));
    assert.equal(t.driver.execExitCode(t.spec, 7), 7);
    assert.equal(t.driver.capabilities().kind, 'vm');
    mkdirSync(t.spec.hostIds.runDir, { recursive: true });
    writeFileSync(join(t.spec.hostIds.runDir, 'serial.log.1'), 'older ');
    writeFileSync(join(t.spec.hostIds.runDir, 'serial.log'), 'newest');
    assert.equal(t.driver.consoleLog(t.spec, 9), 'er newest');
  } finally {
    t.done();
  }
});

test('adopt after a daemon restart: a new driver follows the running VM\'s events and console; a dropped QMP connection is made again', async () => {
  const t = setup();
  const ports: QemuPorts = { exec: t.exec, log: silentLogger(), network: fakeNetwork(t.file, t.taps) };
  const again = new QemuInstanceDriver(ports, { qemuUser: 'nimbo-qemu', accelerator: 'tcg', qemu: { exec: t.exec, binary: FAKE_VM_BINARY, qmpTimeoutMs: 3000 }, exitWaitMs: 1000 });
  try {
    await t.driver.start(t.spec);
    t.driver.close(); // the daemon exits; the VM keeps running
    const events: DriverEvent[] = [];
    again.watch((ev) => events.push(ev));
    await again.adopt(t.spec);
    assert.equal((await again.status(t.spec)).state, 'running');
    assert.equal((await again.console(t.spec)).kind, 'serial');
    (await again.qemu.qmp(t.spec.hostIds.runDir)).close(); // the connection drops; QEMU still runs
    await until(() => (t.lines().filter((l) => l === 'qmp connect').length >= 3 ? true : undefined), 'a new QMP connection');
    await again.qemu.qmp(t.spec.hostIds.runDir); // the reconnection's handshake is done
    assert.deepEqual(events, [], 'a dropped connection of a running VM is no exit');
    process.kill(t.pid(), 'SIGUSR1');
    await until(() => (events.length ? true : undefined), 'the exit event on the adopting driver');
    assert.deepEqual(events, [{ type: 'exited', uuid: UUID, exitCode: null, requested: true }]);
    assert.deepEqual(t.events, [], 'the closed driver reports nothing');
  } finally {
    again.close();
    t.done();
  }
});

test('factory and registry: qemu is available when its binary is on PATH, else kept with the reason', async () => {
  const t = setup();
  const path = process.env.PATH;
  try {
    const ports = { exec: t.exec, log: silentLogger(), network: { ...fakeNetwork(t.file, t.taps), plugNetns: async () => undefined } };
    const opts = { stateDir: t.dir, prefix: 'tst', qemuUser: 'nimbo-qemu', accelerator: 'tcg' as const, containerRuntime: 'runc' };
    process.env.PATH = join(t.dir, 'bin');
    assert.deepEqual(await createQemuInstanceDriver(ports, opts), { unavailable: 'qemu-system-x86_64 is not installed' });
    const none = await DriverRegistry.open(ports, opts, { qemu: DRIVERS.qemu! });
    assert.throws(() => none.forKind('vm'), isConflict(/^VMs are not available on this host \(qemu-system-x86_64 is not installed\)$/));
    mkdirSync(join(t.dir, 'bin'));
    writeFileSync(join(t.dir, 'bin', 'qemu-system-x86_64'), '', { mode: 0o755 });
    const reg = await DriverRegistry.open(ports, opts, { qemu: DRIVERS.qemu! });
    assert.equal(reg.forKind('vm').name, 'qemu');
    assert.deepEqual(reg.get('qemu').capabilities(), QEMU_CAPABILITIES);
    reg.close();
  } finally {
    process.env.PATH = path;
    t.done();
  }
});

test('a tap plugNic just made is not looked at again by the start that follows; a changed limit or a vanished tap is', async () => {
  const t = setup();
  try {
    const boot = t.spec.nics[0]!;
    await t.driver.plugNic(t.spec, boot, false);
    mkdirSync(join(t.dir, 'sys', 'class', 'net', boot.tap), { recursive: true }); // the kernel's view of the new tap
    const before = t.lines().length;
    await t.driver.start(t.spec);
    const during = t.lines().slice(before);
    assert.ok(!during.some((l) => /^(createTap|applyLimits) tstap0/.test(l)), during.join('\n'));
    await t.driver.stop(t.spec, { timeoutMs: 2000, force: true });
    // Not fresh any more: the next start checks the tap and its limits again.
    const mark = t.lines().length;
    await t.driver.start(t.spec);
    assert.ok(t.lines().slice(mark).includes('applyLimits tstap0'));
  } finally {
    t.done();
  }
});
