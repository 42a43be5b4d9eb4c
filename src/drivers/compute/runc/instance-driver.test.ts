// Unit tests of RuncInstanceDriver: plan validation, start/stop/destroy argv and files, status from
// runc's files without a process, volumes, snapshots with a fake VolumeSnapshotPort, console log,
// the factory. A fake runtime, FakeExec and temp dirs stand in for runc, /proc, cgroups and netns.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeExec } from '../../../host/fake-exec.js';
import { NimboError, notFound } from '../../../lib/errors.js';
import { silentLogger } from '../../../lib/log.js';
import type { Nic } from '../../../shared/api-types.js';
import type { InstanceSpec, PlanInput, VolumeSnapshotPort } from '../instance-driver.js';
import { DRIVERS, type DriverFactory } from '../registry.js';
import { ID_BASE, ID_SIZE, type ContainerInfo } from './container-info.js';
import { createRuncInstanceDriver, RuncInstanceDriver, type RuncInstanceDriverDeps } from './instance-driver.js';
import type { RuncRuntime } from './ports.js';
import type { ContainerStatus } from './runc-support.js';

const made: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'nimbo-runc-drv-'));
  made.push(d);
  return d;
};
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
const isRoot = process.getuid?.() === 0;

/** A runtime that records every call; its container's status is the test's. */
class FakeRuntime {
  status: ContainerStatus = 'absent';
  readonly log: string[] = [];
  constructor(readonly root: string) {}
  async state(id: string) {
    this.log.push(`state ${id}`);
    return { id, pid: this.status === 'absent' || this.status === 'stopped' ? 0 : 4242, status: this.status };
  }
  async create(id: string, bundle: string, opts: object) {
    this.log.push(`create ${id} ${bundle} ${JSON.stringify(opts)}`);
    this.status = 'created';
    return { pid: 4242, status: this.status };
  }
  async start(id: string) {
    this.log.push(`start ${id}`);
    this.status = 'running';
  }
  async delete(id: string, force?: boolean) {
    this.log.push(`delete ${id}${force ? ' force' : ''}`);
    this.status = 'absent';
  }
  async stop(id: string, o: { timeoutMs?: number; signal?: string }) {
    this.log.push(`stop ${id} ${o.signal} ${o.timeoutMs}`);
    this.status = 'stopped';
    return { forced: false };
  }
  async pause(id: string) {
    this.log.push(`pause ${id}`);
  }
  async resume(id: string) {
    this.log.push(`resume ${id}`);
  }
  async stats(id: string) {
    this.log.push(`stats ${id}`);
    return { cpuNs: 2_500_000_000, memoryBytes: 4096, pids: 2 };
  }
  async execSpawn(id: string, args: string[], opts: object) {
    this.log.push(`exec ${id} ${args.join(' ')} ${JSON.stringify(opts)}`);
    return {} as never;
  }
}

const UUID = '12345678-9abc-4def-8123-456789abcdef';
const system: ContainerInfo = { kind: 'system', hostId: ID_BASE + 3 * ID_SIZE, netns: 'p-12345678', stopSignal: 'SIGUSR2', pids: 512 };
const nic = (name: string, tap: string): Nic => ({ name, tap, network: 'net0', mac: '52:54:00:00:00:01', address: '10.9.0.5/24' });

/** A driver over temp dirs; `live(pid)` makes runc's state.json and /proc say the container runs. */
function setup(over: Partial<RuncInstanceDriverDeps> = {}) {
  const base = tmp();
  const dirs = { runc: join(base, 'runc'), proc: join(base, 'proc'), cg: join(base, 'cg'), netns: join(base, 'netns'), net: join(base, 'net'), exits: join(base, 'run', 'runc.exits'), run: join(base, 'run', UUID), inst: join(base, 'instances', UUID), root: join(base, 'pool', 'root') };
  for (const d of Object.values(dirs)) if (d !== dirs.exits) mkdirSync(d, { recursive: true });
  writeFileSync(join(dirs.cg, 'cgroup.controllers'), 'memory pids\n'); // a cgroup v2 host
  const rt = new FakeRuntime(dirs.runc);
  const exec = new FakeExec();
  const netLog: string[] = [];
  const helperLog: string[] = [];
  const helper = {
    holders: [] as string[],
    mounts: [] as { pid: number; mountPoint: string }[],
    async inject(pid: number, src: string, dst: string, owner: number) {
      helperLog.push(`inject ${pid} ${src} ${dst} ${owner}`);
    },
    async detach(dir: string) {
      helperLog.push(`detach ${dir}`);
    },
    async volumeHolders() {
      return helper.holders;
    },
    async volumeMounts() {
      return helper.mounts;
    },
  };
  const shifts: unknown[][] = [];
  const driver = new RuncInstanceDriver({
    exec, log: silentLogger(), runtime: rt as unknown as RuncRuntime & { root: string }, prefix: 'p', exitsDir: dirs.exits,
    network: {
      plugNetns: async (ns, nics, s) => void netLog.push(`plug ${ns} ${nics.map((n) => n.name).join(',')} ${JSON.stringify(s)}`),
      applyLimits: async (n) => void netLog.push(`limits ${n.tap}`),
      deleteTap: async (t) => void netLog.push(`deltap ${t}`),
    },
    status: { runcRoot: dirs.runc, proc: dirs.proc, cgroupRoot: dirs.cg },
    netnsPaths: { netnsDir: dirs.netns, classNet: dirs.net },
    cgroupRoot: dirs.cg,
    mountHelper: helper,
    shiftVolume: async (...a: unknown[]) => {
      shifts.push(a);
      return 0;
    },
    renderOptions: async () => ({ cgroupVersion: 2, unifiedCgroup: true, arch: 'amd64' }),
    recheckMs: 50,
    ...over,
  });
  const ref = { uuid: UUID, name: 'c1', hostIds: { runDir: dirs.run, instanceDir: dirs.inst, runtimeId: `p-${UUID}`, cgroup: `/nimbo-p/${UUID}` }, driverConfig: system };
  const spec: InstanceSpec = { ...ref, cpus: 1, memoryBytes: 256 * 1024 ** 2, root: { pool: 'default', volume: `root-${UUID}`, path: dirs.root }, nics: [nic('eth0', 'tap0')], volumes: [], networks: new Map() };
  /** runc's record of a live init with pid `pid` (cgroup paths as runc writes them). */
  const live = (pid = 4242, frozen = false) => {
    mkdirSync(join(dirs.runc, ref.hostIds.runtimeId), { recursive: true });
    const cgdir = join(dirs.cg, 'nimbo-p', UUID);
    mkdirSync(cgdir, { recursive: true });
    writeFileSync(join(cgdir, 'cgroup.freeze'), frozen ? '1\n' : '0\n');
    writeFileSync(join(dirs.runc, ref.hostIds.runtimeId, 'state.json'), JSON.stringify({ id: ref.hostIds.runtimeId, init_process_pid: pid, init_process_start: 777, cgroup_paths: { '': cgdir } }));
    mkdirSync(join(dirs.proc, String(pid)), { recursive: true });
    writeFileSync(join(dirs.proc, String(pid), 'stat'), `${pid} (sh (x) y) S 1 ${Array.from({ length: 17 }, () => '0').join(' ')} 777 0 0\n`);
  };
  return { driver, rt, exec, netLog, helperLog, helper, shifts, dirs, ref, spec, live };
}

const planInput = (over: Partial<PlanInput> = {}, allocated: string[] = []): PlanInput => ({
  uuid: UUID, name: 'c1', image: 'tiny',
  allocateId: async (k) => {
    allocated.push(k);
    return 3;
  },
  releaseId: async () => undefined,
  ...over,
});

test('capabilities: a filesystem-root container runtime with pty console, exec and pool-volume snapshots', () => {
  const c = setup().driver.capabilities();
  assert.equal(c.kind, 'container');
  assert.deepEqual([c.root, c.rootQuota, c.accelerator, c.processLimits, c.app], ['filesystem', true, false, true, true]);
  assert.deepEqual([c.volumeKind, c.volumeMountPath, c.liveDiskResize, c.unplugBootNics], ['filesystem', true, false, true]);
  assert.deepEqual([c.snapshots, c.statefulSnapshots, c.console, c.exec, c.execHint], ['pool-volumes', false, 'pty', true, 'use ssh or the console']);
});

test('plan: refusals keep create\'s messages and reserve nothing', async () => {
  const { driver } = setup();
  const allocated: string[] = [];
  await assert.rejects(driver.plan(planInput({ swap: '300GiB' }, allocated)), { message: 'swap 300GiB is out of range: it must be between 0B and 256GiB' });
  await assert.rejects(driver.plan(planInput({ swap: 'lots' }, allocated)), { message: 'swap "lots" is not a size: use a number with an optional unit, e.g. 512MiB or 2G' });
  await assert.rejects(driver.plan(planInput({ diskRates: { readBps: 1024 } }, allocated)), { message: 'disk read rate 1KiB is out of range: it must be between 1MiB and 1PiB' });
  await assert.rejects(driver.plan(planInput({ diskRates: { writeBps: '10GiB' as unknown as number, readIops: 0 } }, allocated)), /disk read operations 0 must be a positive integer/);
  const app = { args: ['/a'], env: [], cwd: '/', uid: 70000, gid: 0, restart: 'never' as const };
  await assert.rejects(driver.plan(planInput({ app, appUser: 'bob' }, allocated)), { message: "user bob (uid 70000) is outside the container's 65536 ids" });
  await assert.rejects(driver.plan(planInput({ from: { hostId: 5 } }, allocated)), { message: 'the source of the copy has no container settings' });
  await assert.rejects(driver.plan(planInput({ pids: 3 }, allocated)), /pids 3 must be an integer from 16 to 1000000/);
  assert.deepEqual(allocated, []);
});

test('plan: an id range slot becomes the host ids; stop signal by image and kind; release gives the slot back', async () => {
  const { driver, ref } = setup();
  const allocated: string[] = [];
  const ct = await driver.plan(planInput({ swap: '1GiB', cpuWeight: 50, diskRates: { readBps: '2MiB' as unknown as number, writeIops: 100 } }, allocated));
  assert.deepEqual(allocated, ['id-range']);
  assert.deepEqual(ct, { kind: 'system', hostId: ID_BASE + 3 * ID_SIZE, netns: 'p-12345678', stopSignal: 'SIGUSR2', pids: 2048, cpuWeight: 50, swapBytes: 1024 ** 3, disk: { readBps: 2 * 1024 ** 2, writeIops: 100 } });
  assert.equal((await driver.plan(planInput({ image: 'debian-12', pids: 100 }))).stopSignal, 'SIGRTMIN+4');
  const app = { args: ['/a'], env: ['A=1'], cwd: '/', uid: 1000, gid: 1000, restart: 'on-failure' as const };
  const a = await driver.plan(planInput({ image: 'nginx', app }));
  assert.deepEqual([a.kind, a.stopSignal, a.app], ['app', 'SIGTERM', { args: ['/a'], env: ['A=1'], cwd: '/', uid: 1000, gid: 1000, restart: 'on-failure' }]);
  // A copy keeps its source's settings, with ids of its own.
  const src: ContainerInfo = { ...a, hostId: ID_BASE, netns: 'p-aaaaaaaa', oomKills: 4, exitCode: 1, cpuWeight: 7 };
  const copy = await driver.plan(planInput({ uuid: 'bbbbbbbb-0000-4000-8000-000000000000', image: 'nginx', from: src }));
  assert.deepEqual(copy, { kind: 'app', hostId: ID_BASE + 3 * ID_SIZE, netns: 'p-bbbbbbbb', stopSignal: 'SIGTERM', pids: 2048, cpuWeight: 7, app: a.app });
  const released: unknown[] = [];
  await driver.release(ref, { releaseId: async (k, n) => void released.push([k, n]) });
  assert.deepEqual(released, [['id-range', 3]]);
});

test('status: from runc\'s state.json, /proc and the cgroup only — no process unless usage is asked', async () => {
  const { driver, rt, exec, ref, dirs, live } = setup();
  assert.deepEqual(await driver.status(ref), { state: 'stopped', pid: null, exitCode: null, oomKills: null });
  live(4242);
  writeFileSync(join(dirs.cg, 'nimbo-p', UUID, 'memory.events'), 'oom 1\noom_kill 2\n');
  assert.deepEqual(await driver.status(ref), { state: 'running', pid: 4242, exitCode: null, oomKills: 2 });
  live(4242, true);
  assert.equal((await driver.status(ref)).state, 'paused');
  // A hybrid host: runc freezes through the v1 freezer; the unified dir's cgroup.freeze stays 0.
  live(4242, false);
  const stateFile = join(dirs.runc, ref.hostIds.runtimeId, 'state.json');
  const fz = join(dirs.cg, 'freezer', 'nimbo-p', UUID);
  mkdirSync(fz, { recursive: true });
  writeFileSync(fz + '/freezer.state', 'FROZEN\n');
  writeFileSync(stateFile, JSON.stringify({ ...JSON.parse(readFileSync(stateFile, 'utf8')), cgroup_paths: { '': join(dirs.cg, 'nimbo-p', UUID), freezer: fz } }));
  assert.equal((await driver.status(ref)).state, 'paused');
  writeFileSync(fz + '/freezer.state', 'THAWED\n');
  assert.equal((await driver.status(ref)).state, 'running');
  assert.deepEqual(rt.log, []);
  assert.deepEqual(exec.calls, []);
  // usage: one stats call
  assert.deepEqual((await driver.status(ref, { usage: true })).usage, { cpuSeconds: 2.5, memoryBytes: 4096, pids: 2 });
  assert.deepEqual(rt.log, [`stats p-${UUID}`]);
  // With the cgroup's own files there, usage (and disk I/O) comes from them: no runtime call (the metrics sampler asks every 10 s).
  const cgDir = join(dirs.cg, 'nimbo-p', UUID);
  writeFileSync(join(cgDir, 'cpu.stat'), 'usage_usec 1500000\n');
  writeFileSync(join(cgDir, 'memory.current'), '8192\n');
  writeFileSync(join(cgDir, 'pids.current'), '3\n');
  writeFileSync(join(cgDir, 'io.stat'), '8:0 rbytes=10 wbytes=20 rios=1 wios=2\n');
  assert.deepEqual((await driver.status(ref, { usage: true })).usage, { cpuSeconds: 1.5, memoryBytes: 8192, pids: 3, disk: { readBytes: 10, writeBytes: 20, reads: 1, writes: 2 } });
  assert.deepEqual(rt.log, [`stats p-${UUID}`]);
  // pid reused by another process (other start time) or a zombie: stopped; the exit file gives the code.
  writeFileSync(join(dirs.proc, '4242', 'stat'), `4242 (other) S 1 ${Array.from({ length: 17 }, () => '0').join(' ')} 999 0 0\n`);
  mkdirSync(dirs.exits);
  writeFileSync(join(dirs.exits, `${UUID}.json`), '{"exitCode": 130}\n');
  assert.deepEqual(await driver.status(ref), { state: 'stopped', pid: null, exitCode: 130, oomKills: 2 });
  writeFileSync(join(dirs.proc, '4242', 'stat'), `4242 (sh) Z 1 ${Array.from({ length: 17 }, () => '0').join(' ')} 777 0 0\n`);
  assert.equal((await driver.status(ref)).state, 'stopped');
  // An application container started by an older version kept its exit code in the run dir.
  rmSync(join(dirs.exits, `${UUID}.json`));
  writeFileSync(join(dirs.run, 'exit.json'), '{"exitCode": 3}\n');
  assert.equal((await driver.status(ref)).exitCode, 3);
});

test('status: a runtime without state.json (crun) is asked, only while it has a directory for the container', async () => {
  const { driver, rt, dirs, ref } = setup();
  rt.status = 'paused';
  assert.equal((await driver.status(ref)).state, 'stopped');
  assert.deepEqual(rt.log, [], 'no directory: stopped without asking');
  mkdirSync(join(dirs.runc, ref.hostIds.runtimeId));
  assert.deepEqual([(await driver.status(ref)).state, (await driver.status(ref)).pid], ['paused', 4242]);
  rt.status = 'stopped';
  assert.equal((await driver.status(ref)).state, 'stopped');
  assert.deepEqual(rt.log, Array(3).fill(`state p-${UUID}`));
});

test('start: bundle, marker and exit file in the exits dir; create → plug → start; a running container is left alone', { skip: !isRoot && 'chown of the root dir needs root' }, async () => {
  const { driver, rt, netLog, dirs, spec, live } = setup();
  // A root made earlier (copy mode, shifted) and the console FIFO.
  mkdirSync(join(dirs.root, 'rootfs'));
  writeFileSync(join(dirs.root, 'nimbo-root.json'), JSON.stringify({ version: 1, lowerDir: '/img', hostId: system.hostId, size: ID_SIZE, mode: 'copy', shifted: true }));
  assert.equal(spawnSync('mkfifo', [join(dirs.run, 'console.fifo')]).status, 0);
  assert.equal(existsSync(dirs.exits), false);
  const vol = { pool: 'default', volume: 'data', path: '/pool/data', limits: {} as never, mountPath: '/data' };
  await driver.start({ ...spec, volumes: [vol, { ...vol, volume: 'raw', path: '/pool/raw', mountPath: undefined }] });
  const id = `p-${UUID}`;
  assert.deepEqual(rt.log.map((l) => l.split(' ')[0]), ['state', 'create', 'start']);
  const opts = JSON.parse(rt.log[1]!.split(' ').slice(3).join(' '));
  assert.deepEqual(opts, { stdoutPath: join(dirs.run, 'serial.log'), start: false, logMaxBytes: 1024 * 1024, exitFile: join(dirs.exits, `${UUID}.json`), consoleFifo: join(dirs.run, 'console.fifo') });
  assert.equal(rt.log[1]!.split(' ')[2], join(dirs.inst, 'bundle'));
  assert.deepEqual(netLog, ['plug p-12345678 eth0 {"attachPid":4242}']);
  const cfg = JSON.parse(readFileSync(join(dirs.inst, 'bundle', 'config.json'), 'utf8'));
  assert.equal(cfg.linux.cgroupsPath, `/nimbo-p/${UUID}`);
  assert.equal(cfg.hostname, 'c1');
  assert.deepEqual(cfg.mounts.filter((m: { source: string }) => m.source.startsWith('/pool')).map((m: { destination: string }) => m.destination), ['/data']);
  assert.deepEqual(JSON.parse(readFileSync(join(dirs.run, 'container.json'), 'utf8')), { id, stopSignal: 'SIGUSR2', netns: 'p-12345678', exitFile: join(dirs.exits, `${UUID}.json`) });
  assert.equal(existsSync(dirs.exits), true, 'nobody watches yet: start made the exits dir (runc\'s pid file goes there)');
  // Started again after it ended: the last run's exit file goes first.
  writeFileSync(join(dirs.exits, `${UUID}.json`), '{"exitCode": 0}\n');
  await driver.start(spec);
  assert.equal(existsSync(join(dirs.exits, `${UUID}.json`)), false, 'the last run\'s exit file is gone');
  rt.log.length = 0;
  live();
  await driver.start(spec);
  assert.deepEqual(rt.log, []);
});

test('stop (signal, then delete; force: delete at once), pause/resume and destroy by the pinned host ids', async () => {
  const { driver, rt, exec, netLog, dirs, ref } = setup();
  const id = `p-${UUID}`;
  rt.status = 'running';
  writeFileSync(join(dirs.netns, 'p-12345678'), '');
  await driver.stop(ref, { timeoutMs: 5000, force: false });
  assert.deepEqual(rt.log, [`state ${id}`, `stop ${id} SIGUSR2 5000`, `delete ${id} force`]);
  assert.deepEqual(exec.lines(), ['ip netns del p-12345678']);
  rt.log.length = 0;
  rt.status = 'running';
  await driver.stop(ref, { timeoutMs: 5000, force: true });
  await driver.pause(ref);
  await driver.resume(ref);
  assert.deepEqual(rt.log, [`state ${id}`, `delete ${id} force`, `pause ${id}`, `resume ${id}`]);
  rt.log.length = 0;
  rt.status = 'stopped';
  mkdirSync(dirs.exits);
  writeFileSync(join(dirs.exits, `${UUID}.json`), '{"exitCode": 0}\n');
  writeFileSync(join(dirs.exits, `${UUID}.json.pid`), '4242');
  writeFileSync(join(dirs.root, 'nimbo-root.json'), '{}');
  mkdirSync(join(dirs.root, 'upper'));
  await driver.destroy(ref, [nic('eth0', 'tap0'), nic('eth1', 'tap1')], { path: dirs.root });
  assert.deepEqual(rt.log, [`state ${id}`, `delete ${id} force`]);
  assert.deepEqual(netLog, ['deltap tap0', 'deltap tap1']);
  for (const gone of [dirs.run, dirs.inst, join(dirs.exits, `${UUID}.json`), join(dirs.exits, `${UUID}.json.pid`), join(dirs.root, 'upper'), join(dirs.root, 'nimbo-root.json')]) assert.equal(existsSync(gone), false, gone);
  assert.equal(existsSync(dirs.root), true, 'the volume dir itself stays');
});

test('NICs: a live container gets a veth with its address; unplug deletes the host end', async () => {
  const { driver, netLog, spec } = setup();
  await driver.plugNic(spec, nic('eth1', 'tap1'), false);
  assert.deepEqual(netLog, []);
  await driver.plugNic(spec, { ...nic('eth1', 'tap1'), ingressBps: 1000 }, true);
  await driver.unplugNic(spec, nic('eth1', 'tap1'), true);
  assert.deepEqual(netLog, ['plug p-12345678 eth1 {"addresses":[{"dev":"eth1","cidr":"10.9.0.5/24"}]}', 'limits tap1', 'deltap tap1']);
});

test('volumes: refused while mounted elsewhere or held; shifted from the last owner; hot-plugged when live; detached by the helper', async () => {
  const { driver, helper, helperLog, shifts, spec, live } = setup();
  const vol = { pool: 'p1', volume: 'v1', path: '/pool/v1', limits: {} as never, mountPath: '/data', idOwner: 1_131_072 };
  helper.mounts = [{ pid: 99, mountPoint: '/mnt' }];
  await assert.rejects(driver.plugVolume(spec, vol, false), { message: 'volume p1/v1 is still mounted at /mnt in the mount namespace of host pid 99: detach it there first' });
  assert.deepEqual(shifts, []);
  helper.mounts = [];
  await assert.rejects(driver.plugVolume(spec, { ...vol, mountPath: undefined }, false), /give the path where p1\/v1 is mounted in container c1 \(--path\)/);
  assert.deepEqual(await driver.plugVolume(spec, vol, false), { idOwner: system.hostId });
  assert.deepEqual(shifts, [['/pool/v1', system.hostId, ID_SIZE, 1_131_072]]);
  assert.deepEqual(helperLog, []);
  await assert.rejects(driver.plugVolume(spec, vol, true), /container c1 is not running/);
  live(5151);
  await driver.plugVolume(spec, vol, true);
  assert.deepEqual(helperLog, [`inject 5151 /pool/v1 /data ${system.hostId}`]);
  helper.holders = ['pid 7 (sh): cwd'];
  await assert.rejects(driver.checkUnplugVolume(spec, vol), { message: 'the volume is in use: pid 7 (sh): cwd; end those processes (or move them out of it) and detach again' });
  await driver.unplugVolume(spec, vol, false);
  assert.deepEqual(helperLog.at(-1), 'detach /pool/v1');
});

/** A VolumeSnapshotPort that records calls and fails where told. */
function fakeVols(failOn?: string): VolumeSnapshotPort & { log: string[] } {
  const log: string[] = [];
  const rec = (what: string) => async (pool: string, volume: string, snap: string) => {
    const line = `${what} ${pool}/${volume}@${snap}`;
    log.push(line);
    if (line === failOn) throw new Error('pool is full');
    if (what === 'remove' && volume === 'gone') throw notFound(`snapshot ${snap}`);
  };
  return { log, create: rec('create'), restore: rec('restore'), remove: rec('remove') };
}

test('snapshots: root then volumes with the running container frozen; a failure removes what was taken; a paused one stays paused', async () => {
  const { driver, rt, spec, live } = setup();
  const id = `p-${UUID}`;
  const s = { ...spec, volumes: [{ pool: 'p1', volume: 'v1', path: '/pool/v1', limits: {} as never, mountPath: '/data' }] };
  await assert.rejects(driver.snapshot(s, { name: 'x', stateful: true }, fakeVols()), { message: 'c1 is a container: containers have no stateful snapshots (saving processes would need CRIU); take a disk-only snapshot' });
  live();
  const vols = fakeVols();
  const steps: string[] = [];
  const data = await driver.snapshot(s, { name: 's1', stateful: false }, vols, (_p, m) => steps.push(m));
  assert.deepEqual(vols.log, [`create default/root-${UUID}@s1`, 'create p1/v1@s1']);
  assert.deepEqual(rt.log, [`pause ${id}`, `resume ${id}`]);
  assert.deepEqual(steps, ['pausing the container', `snapshotting default/root-${UUID}`, 'snapshotting p1/v1']);
  assert.deepEqual(data, { stateful: false, disks: [{ id: 'root', path: spec.root.path }, { id: 'p1/v1', path: '/pool/v1' }], volumes: [{ pool: 'default', volume: `root-${UUID}` }, { pool: 'p1', volume: 'v1' }] });

  rt.log.length = 0;
  const failing = fakeVols('create p1/v1@s2');
  await assert.rejects(driver.snapshot(s, { name: 's2', stateful: false }, failing), /pool is full/);
  assert.deepEqual(failing.log, [`create default/root-${UUID}@s2`, 'create p1/v1@s2', `remove default/root-${UUID}@s2`]);
  assert.deepEqual(rt.log, [`pause ${id}`, `resume ${id}`], 'resumed after the failure');

  rt.log.length = 0;
  live(4242, true);
  await driver.snapshot(s, { name: 's3', stateful: false }, fakeVols());
  assert.deepEqual(rt.log, [], 'a paused container is neither paused nor resumed');

  await assert.rejects(driver.restoreSnapshot(s, 's1', data, fakeVols()), { message: 'container c1 is running: stop it to restore a snapshot' });
});

test('snapshots: restore a stopped container volume by volume; delete ignores snapshots already gone', async () => {
  const { driver, spec } = setup();
  const data = { stateful: false, disks: [], volumes: [{ pool: 'default', volume: `root-${UUID}` }, { pool: 'p1', volume: 'v1' }] };
  const vols = fakeVols();
  await driver.restoreSnapshot(spec, 's1', data, vols);
  assert.deepEqual(vols.log, [`restore default/root-${UUID}@s1`, 'restore p1/v1@s1']);
  // A record from before `volumes`: the disk ids name them.
  const old = fakeVols();
  await driver.deleteSnapshot(spec, 's1', { stateful: false, disks: [{ id: 'root', path: '/x' }, { id: 'p1/gone', path: '/y' }] }, old);
  assert.deepEqual(old.log, [`remove default/root-${UUID}@s1`, 'remove p1/gone@s1']);
  const failing = fakeVols('remove p1/v1@s1');
  await assert.rejects(driver.deleteSnapshot(spec, 's1', data, failing), /pool is full/);
});

test('console and exec only in a running container (pty login shell); console log spans the rotated file', async () => {
  const { driver, rt, dirs, ref, live } = setup();
  await assert.rejects(driver.console(ref), { message: 'container c1 is stopped' });
  live();
  const h = await driver.console(ref);
  assert.equal(h.kind, 'pty');
  await driver.exec(ref, ['ls', '/'], { tty: false });
  assert.deepEqual(rt.log, [`exec p-${UUID} /bin/sh -l {"tty":true}`, `exec p-${UUID} ls / {"tty":false}`]);
  assert.equal(driver.consoleLog(ref, 100), '');
  writeFileSync(join(dirs.run, 'serial.log.1'), 'old-lines\n');
  writeFileSync(join(dirs.run, 'serial.log'), 'new\n');
  assert.equal(driver.consoleLog(ref, 100), 'old-lines\nnew\n');
  assert.equal(driver.consoleLog(ref, 7), 'es\nnew\n');
  assert.equal(driver.consoleLog(ref, 2), 'w\n');
  assert.equal(driver.execExitCode(ref, 255, 'time="x" level=error msg="exec failed: unable to start container process: exec: \\"nope\\": executable file not found in $PATH"'), 127);
  assert.throws(() => driver.execExitCode(ref, 255, 'level=error msg="exec failed: cannot exec in a paused container"'), (e: unknown) => e instanceof NimboError && e.code === 'Conflict');
});

test('factory: unavailable when the runtime cannot run; otherwise a driver named runc', async () => {
  const factory: DriverFactory = createRuncInstanceDriver; // what the registry's table loads
  const ports = { log: silentLogger(), network: {} as never };
  const missing = new FakeExec().on(['runc', '--version'], { code: 127, stderr: 'runc: not found' });
  assert.deepEqual(await factory({ ...ports, exec: missing }, { stateDir: tmp(), prefix: 'p', qemuUser: 'nobody', accelerator: 'tcg', containerRuntime: 'runc' }), { unavailable: 'runc is missing' });
  const ok = new FakeExec().on(['crun', '--version'], { stdout: 'crun version 1.8.1\ncommit: abc\n' });
  const d = await factory({ ...ports, exec: ok }, { stateDir: tmp(), prefix: 'p', qemuUser: 'nobody', accelerator: 'tcg', containerRuntime: 'crun' });
  assert.ok(d instanceof RuncInstanceDriver);
  assert.equal(await DRIVERS.runc!.load(), createRuncInstanceDriver);
  assert.equal(d.name, 'runc');
  d.close();
});
