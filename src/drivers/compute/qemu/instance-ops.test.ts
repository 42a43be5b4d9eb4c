import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeExec } from '../../../host/fake-exec.js';
import type { ExecOptions, ExecResult, HostExec } from '../../../host/exec.js';
import { QemuDriver } from './driver.js';
import { FakeBlockQemu } from './fake-qmp-block.js';
import { FakeNicQemu } from './fake-qmp-nic.js';
import { QemuInstanceOps, volumeDiskId, type QemuInstanceSpec, type QemuRef } from './instance-ops.js';

const PID = 4242;
const NO_LIMITS = { iopsRead: 0, iopsWrite: 0, bytesRead: 0, bytesWrite: 0 };

/**
 * A VM run dir whose qmp.sock leads to `fake`; `live` adds a pidfile and a /proc entry naming it,
 * so the driver sees a running QEMU. `done` closes everything.
 */
async function setup(fake: { listen(): Promise<{ path: string; stop: () => void }> }, live: boolean, qemuId: number | null = 2_000_000_007) {
  const dir = mkdtempSync(join(tmpdir(), 'qio-'));
  const runDir = join(dir, 'run', 'vm1');
  const procRoot = join(dir, 'proc');
  mkdirSync(runDir, { recursive: true });
  const srv = await fake.listen();
  symlinkSync(srv.path, join(runDir, 'qmp.sock'));
  if (live) {
    writeFileSync(join(runDir, 'qemu.pid'), `${PID}\n`);
    mkdirSync(join(procRoot, String(PID)), { recursive: true });
    writeFileSync(join(procRoot, String(PID), 'stat'), `${PID} (qemu-system-x86) S 1 1 1`);
    writeFileSync(join(procRoot, String(PID), 'cmdline'), ['qemu-system-x86_64', '-pidfile', join(runDir, 'qemu.pid'), ''].join('\0'));
  }
  const exec = new FakeExec();
  const driver = new QemuDriver({ exec, qmpTimeoutMs: 2000, proc: { procRoot } });
  const ops = new QemuInstanceOps(driver, { exec, qemuUser: 'nimbo-qemu' });
  const ref: QemuRef = { name: 'vm1', hostIds: { runDir, instanceDir: join(dir, 'instances', 'vm1') }, driverConfig: qemuId === null ? {} : { qemuId } };
  const done = () => {
    driver.close();
    srv.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return { dir, runDir, exec, driver, ops, ref, done };
}

const rootDisk = () => {
  const f = new FakeBlockQemu();
  f.coldDisk('root', 'qcow2', '/p/root.qcow2', 256 << 20);
  return f;
};
const mutations = (f: { calls: { cmd: string }[] }) => f.calls.map((c) => c.cmd).filter((c) => !c.startsWith('query-') && !c.startsWith('qom-') && c !== 'job-dismiss');

test('plugVolume on a running VM: the file goes to the VM\'s uid (mode 0600) before QEMU opens it, then attach with limits', async () => {
  const fake = rootDisk();
  const t = await setup(fake, true);
  try {
    let execCallsAtOpen = -1;
    const orig = fake.handle.bind(fake);
    fake.handle = (cmd, a) => {
      if (cmd === 'blockdev-add' && execCallsAtOpen < 0) execCallsAtOpen = t.exec.calls.length;
      return orig(cmd, a);
    };
    const vol = { pool: 'default', volume: 'data', path: '/p/data.qcow2', format: 'qcow2' as const, limits: { ...NO_LIMITS, iopsWrite: 50, bytesRead: 1 << 20 } };
    await t.ops.plugVolume(t.ref, vol, true);
    assert.deepEqual(t.exec.lines(), ['chown 2000000007:2000000007 /p/data.qcow2', 'chmod 0600 /p/data.qcow2']);
    assert.equal(execCallsAtOpen, 2, 'chown and chmod ran before blockdev-add');
    const id = volumeDiskId('default', 'data');
    assert.match(id, /^v[0-9a-f]{12}$/);
    assert.ok(fake.devices.has(`disk-${id}`));
    const th = fake.calls.find((c) => c.cmd === 'block_set_io_throttle')!.args!;
    assert.deepEqual([th.iops_rd, th.iops_wr, th.bps_rd, th.bps_wr], [0, 50, 1 << 20, 0]);
    assert.deepEqual(mutations(fake), ['blockdev-add', 'blockdev-add', 'device_add', 'block_set_io_throttle']);
  } finally {
    t.done();
  }
});

test('plugVolume: a stopped VM gets nothing now (its next start plugs it); a pre-per-VM-id record chowns to the shared QEMU user', async () => {
  const fake = rootDisk();
  const t = await setup(fake, true, null);
  try {
    const vol = { pool: 'p2', volume: 'raw1', path: '/p/raw1.img', limits: NO_LIMITS };
    await t.ops.plugVolume(t.ref, vol, false);
    assert.deepEqual(t.exec.lines(), []);
    assert.equal(fake.calls.length, 0);
    await t.ops.plugVolume(t.ref, vol, true);
    assert.deepEqual(t.exec.lines(), ['chown nimbo-qemu: /p/raw1.img', 'chmod 0600 /p/raw1.img']);
    const file = fake.calls.find((c) => c.cmd === 'blockdev-add' && c.args?.driver === 'raw');
    assert.ok(file, 'format defaults to raw');
  } finally {
    t.done();
  }
});

test('unplugVolume: hot-unplugged when live, then owned by root again; stopped: only the chown', async () => {
  const fake = rootDisk();
  const t = await setup(fake, true);
  try {
    const vol = { pool: 'default', volume: 'data', path: '/p/data.qcow2', format: 'qcow2' as const, limits: NO_LIMITS };
    await t.ops.plugVolume(t.ref, vol, true);
    t.exec.calls.length = 0;
    fake.calls.length = 0;
    await t.ops.unplugVolume(t.ref, vol, true);
    assert.deepEqual(mutations(fake), ['device_del', 'blockdev-del', 'blockdev-del']);
    assert.equal(fake.devices.has(`disk-${volumeDiskId('default', 'data')}`), false);
    assert.deepEqual(t.exec.lines(), ['chown 0:0 /p/data.qcow2']);
    fake.calls.length = 0;
    await t.ops.unplugVolume(t.ref, vol, false);
    assert.equal(fake.calls.length, 0);
    assert.deepEqual(t.exec.lines(), ['chown 0:0 /p/data.qcow2', 'chown 0:0 /p/data.qcow2']);
  } finally {
    t.done();
  }
});

test('resizeVolume and setVolumeLimits address the root disk or a volume\'s disk by its id', async () => {
  const fake = rootDisk();
  const t = await setup(fake, true);
  try {
    const vol = { pool: 'default', volume: 'data', path: '/p/data.qcow2', format: 'qcow2' as const, limits: NO_LIMITS };
    await t.ops.plugVolume(t.ref, vol, true);
    const id = volumeDiskId('default', 'data');
    await t.ops.resizeVolume(t.ref, 'root', 512 << 20);
    await t.ops.resizeVolume(t.ref, vol, 300 << 20);
    assert.equal(fake.nodes.get('d-root')!.size, 512 << 20);
    assert.equal(fake.nodes.get(`d-${id}`)!.size, 300 << 20);
    fake.calls.length = 0;
    await t.ops.setVolumeLimits(t.ref, 'root', { iopsRead: 1, iopsWrite: 2, bytesRead: 3 << 20, bytesWrite: 4 << 20 });
    await t.ops.setVolumeLimits(t.ref, vol, { ...NO_LIMITS, iopsRead: 7 });
    const th = fake.calls.filter((c) => c.cmd === 'block_set_io_throttle').map((c) => [c.args!.id, c.args!.iops_rd, c.args!.iops_wr, c.args!.bps_rd, c.args!.bps_wr]);
    assert.deepEqual(th, [
      ['/machine/peripheral/disk-root/virtio-backend', 1, 2, 3 << 20, 4 << 20],
      [`/machine/peripheral/disk-${id}/virtio-backend`, 7, 0, 0, 0],
    ]);
    await assert.rejects(t.ops.resizeVolume(t.ref, { pool: 'default', volume: 'gone' }, 1 << 30), (e: unknown) => (e as { code?: string }).code === 'NotFound');
  } finally {
    t.done();
  }
});

test('snapshots of a running VM go through QEMU (save, load, delete); no qemu-img', async () => {
  const fake = rootDisk();
  const t = await setup(fake, true);
  try {
    const progress: string[] = [];
    const disks = [{ id: 'root', path: '/p/root.qcow2' }];
    const snap = await t.ops.snapshot(t.ref, { name: 's1', stateful: true, disks }, (p, m) => progress.push(`${p} ${m}`));
    assert.deepEqual(snap, { name: 's1', stateful: true, disks, vmDisks: ['root'] });
    assert.deepEqual(progress, ['10 saving with QEMU (the VM pauses meanwhile)']);
    await t.ops.restoreSnapshot(t.ref, snap);
    await t.ops.deleteSnapshot(t.ref, snap);
    assert.deepEqual(mutations(fake), ['snapshot-save', 'snapshot-load', 'snapshot-delete']);
    assert.deepEqual(fake.nodes.get('d-root')!.snaps, []);
    assert.deepEqual(t.exec.lines(), []);
  } finally {
    t.done();
  }
});

test('snapshots of a stopped VM use qemu-img on each image (delete ignores images without it); no QMP', async () => {
  const fake = rootDisk();
  const t = await setup(fake, false);
  try {
    t.exec.on(['qemu-img', 'snapshot', '-d'], { code: 1, stderr: 'snapshot not found' });
    const disks = [{ id: 'root', path: '/p/root.qcow2' }, { id: 'default/data', path: '/p/data.qcow2' }];
    const snap = await t.ops.snapshot(t.ref, { name: 's2', stateful: false, disks }, () => assert.fail('no progress: nothing pauses'));
    assert.deepEqual(snap, { name: 's2', stateful: false, disks });
    await t.ops.restoreSnapshot(t.ref, snap);
    await t.ops.deleteSnapshot(t.ref, snap);
    assert.deepEqual(t.exec.lines(), [
      'qemu-img snapshot -c s2 /p/root.qcow2', 'qemu-img snapshot -c s2 /p/data.qcow2',
      'qemu-img snapshot -a s2 /p/root.qcow2', 'qemu-img snapshot -a s2 /p/data.qcow2',
      'qemu-img snapshot -d s2 /p/root.qcow2', 'qemu-img snapshot -d s2 /p/data.qcow2',
    ]);
    assert.equal(fake.calls.length, 0);
  } finally {
    t.done();
  }
});

test('plugNic/unplugNic: hot-plug and unplug over QMP when live, nothing when stopped', async () => {
  const fake = new FakeNicQemu();
  fake.coldNic('eth0', 'tap-a0', '52:54:00:00:00:01');
  fake.taps.add('tap-a1');
  const t = await setup(fake, true);
  try {
    const nic = { name: 'eth1', tap: 'tap-a1', mac: '52:54:00:00:00:02', hotplug: true };
    await t.ops.plugNic(t.ref, nic, false);
    await t.ops.unplugNic(t.ref, nic, false);
    assert.equal(fake.calls.length, 0);
    await t.ops.plugNic(t.ref, nic, true);
    assert.equal(fake.devices.get('nic-eth1')?.mac, '52:54:00:00:00:02');
    assert.deepEqual(fake.netdevs.get('net-eth1'), { ifname: 'tap-a1' });
    await t.ops.unplugNic(t.ref, nic, true);
    assert.equal(fake.devices.has('nic-eth1'), false);
    assert.equal(fake.netdevs.has('net-eth1'), false);
    await assert.rejects(t.ops.unplugNic(t.ref, { name: 'eth0' }, true), (e: unknown) => (e as { code?: string }).code === 'Conflict');
  } finally {
    t.done();
  }
});

test('vmSpec: root then the read-only seed, boot NICs only, memory in MiB, the VM\'s own uid (else the shared user)', async () => {
  const t = await setup(rootDisk(), false);
  try {
    const spec: QemuInstanceSpec = {
      ...t.ref, uuid: '00000000-0000-4000-8000-000000000001', cpus: 2, memoryBytes: 512 * 1024 ** 2 + 1, accelerator: 'tcg',
      image: { boot: { kind: 'disk' } }, root: { path: '/p/root.qcow2', format: 'qcow2' },
      nics: [{ name: 'eth0', tap: 'tap-a0', mac: '52:54:00:00:00:01' }, { name: 'eth1', tap: 'tap-a1', mac: '52:54:00:00:00:02', hotplug: true }],
    };
    assert.deepEqual(t.ops.vmSpec(spec), {
      name: 'vm1', uuid: spec.uuid, cpus: 2, memoryMiB: 512, accelerator: 'tcg', boot: { kind: 'disk' },
      disks: [
        { id: 'root', path: '/p/root.qcow2', format: 'qcow2' },
        { id: 'seed', path: join(t.ref.hostIds.instanceDir, 'seed.iso'), format: 'raw', readOnly: true },
      ],
      nics: [{ id: 'eth0', tap: 'tap-a0', mac: '52:54:00:00:00:01' }],
      runDir: t.runDir,
      runAs: '2000000007:2000000007',
    });
    assert.equal(t.ops.vmSpec({ ...spec, driverConfig: {} }).runAs, 'nimbo-qemu');
    assert.equal(t.ops.tapOwner(t.ref), '2000000007');
    assert.equal(t.ops.tapOwner({ ...t.ref, driverConfig: {} }), undefined);
  } finally {
    t.done();
  }
});

test('status and pidOf: stopped without a live QEMU; running with the pidfile\'s pid', async () => {
  const stopped = await setup(rootDisk(), false);
  const live = await setup(rootDisk(), true);
  try {
    assert.deepEqual(await stopped.ops.status(stopped.ref), { state: 'stopped', pid: null });
    assert.equal(stopped.ops.pidOf(stopped.ref), null);
    assert.deepEqual(await live.ops.status(live.ref), { state: 'running', pid: PID });
    assert.equal(live.ops.pidOf(live.ref), PID);
  } finally {
    stopped.done();
    live.done();
  }
});

test('writeSeed: the ISO is built at INSTANCE_DIR/seed.iso, root-only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qio-seed-'));
  const argvs: string[][] = [];
  // genisoimage's stand-in: writes the -output file.
  const exec: HostExec = {
    async run(argv: string[], _o?: ExecOptions): Promise<ExecResult> {
      argvs.push(argv);
      writeFileSync(argv[argv.indexOf('-output') + 1]!, 'iso');
      return { stdout: '', stderr: '', code: 0 };
    },
  };
  try {
    const ops = new QemuInstanceOps(new QemuDriver({ exec }), { exec, qemuUser: 'nimbo-qemu' });
    const instanceDir = join(dir, 'instances', 'vm1');
    mkdirSync(instanceDir, { recursive: true });
    await ops.writeSeed({ name: 'vm1', hostIds: { runDir: join(dir, 'run', 'vm1'), instanceDir }, driverConfig: {} }, { 'meta-data': 'instance-id: x\n' });
    assert.equal(argvs[0]![0], 'genisoimage');
    assert.ok(existsSync(join(instanceDir, 'seed.iso')));
    assert.equal(statSync(join(instanceDir, 'seed.iso')).mode & 0o777, 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
