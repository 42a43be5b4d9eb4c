// Unit tests of the container host code in this folder (boot order and undo, netns, cgroups, lifecycle
// by run dir), with a fake runtime, FakeExec and temporary dirs standing in for /run/netns, /sys/class/net
// and /sys/fs/cgroup.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeExec } from '../../../host/fake-exec.js';
import { silentLogger } from '../../../lib/log.js';
import type { Nic } from '../../../shared/api-types.js';
import { appEtcTexts, appNetnsSetup } from './app-files.js';
import { createAndStart } from './boot.js';
import { containerSpec, type ContainerSpecInput } from './boot-spec.js';
import { pruneCgroupParent, readOomKills } from './cgroups.js';
import { CONTAINER_MARKER, cgroupPathOf, runtimeIdOf, type ContainerInfo } from './container-info.js';
import { RuncLifecycle } from './lifecycle.js';
import { dropNetns, plumbNetns, type NetnsHostPaths } from './netns.js';
import { renderOciConfig } from './oci-config.js';
import type { ContainerNic, NetnsPort, RuncRuntime } from './ports.js';
import type { ContainerStatus } from './runc-support.js';
import { ifbNameFor } from '../../network/qos/tc-render.js';

const made: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'nimbo-runc-host-'));
  made.push(d);
  return d;
};
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
const hostPaths = (): NetnsHostPaths => {
  const d = tmp();
  mkdirSync(join(d, 'netns'));
  mkdirSync(join(d, 'net'));
  return { netnsDir: join(d, 'netns'), classNet: join(d, 'net') };
};
const nic = (name: string, tap: string, extra: Partial<Nic> = {}): ContainerNic =>
  ({ name, tap, network: 'net0', mac: '52:54:00:00:00:01', address: '10.9.0.5/24', ...extra }) as ContainerNic;
const system: ContainerInfo = { kind: 'system', hostId: 1_065_536, netns: 'p-c1', stopSignal: 'SIGRTMIN+4', pids: 512 };

/** A runtime whose container status the test controls; records every call in order (into a shared log). */
class FakeRuntime {
  status: ContainerStatus = 'absent';
  constructor(readonly log: string[], private failOn = new Set<string>()) {}
  private call(what: string) {
    this.log.push(what);
    if (this.failOn.has(what.split(' ')[0]!)) throw new Error(`${what} failed`);
  }
  async state(id: string) {
    this.call(`state ${id}`);
    return { id, pid: this.status === 'absent' || this.status === 'stopped' ? 0 : 4242, status: this.status, bundle: '' };
  }
  async create(id: string, bundle: string, opts: object) {
    this.call(`create ${id} ${bundle} ${JSON.stringify(opts)}`);
    this.status = 'created';
    return { id, pid: 4242, status: this.status, bundle };
  }
  async start(id: string) {
    this.call(`start ${id}`);
    this.status = 'running';
  }
  async delete(id: string, force?: boolean) {
    this.call(`delete ${id} ${force ? 'force' : ''}`.trim());
    this.status = 'absent';
  }
  async stop(id: string, o: { timeoutMs?: number; signal?: string }) {
    this.call(`stop ${id} ${o.signal} ${o.timeoutMs}`);
    this.status = 'stopped';
    return { forced: false };
  }
  async pause(id: string) {
    this.call(`pause ${id}`);
  }
  async resume(id: string) {
    this.call(`resume ${id}`);
  }
  async stats(id: string) {
    this.call(`stats ${id}`);
    return { cpuNs: 1_234_567_890, memoryBytes: 1000, pids: 3 };
  }
  get runtime(): RuncRuntime {
    return this as unknown as RuncRuntime;
  }
}

/** Network plumbing that records into the same log. */
const fakeNet = (log: string[], failPlug = false): NetnsPort => ({
  async plugNetns(ns, nics, setup) {
    log.push(`plug ${ns} ${nics.map((n) => n.name).join(',')} ${JSON.stringify(setup)}`);
    if (failPlug) throw new Error('veth failed');
  },
  async applyLimits(n) {
    log.push(`limits ${n.tap}`);
  },
  async deleteTap(tap) {
    log.push(`deltap ${tap}`);
  },
});

const specInput = (over: Partial<ContainerSpecInput> = {}): ContainerSpecInput => ({
  runtimeId: 'p-c1', name: 'c1', cpus: 2, memoryBytes: 512 * 1024 ** 2, container: system, cgroupsPath: '/nimbo-p/c1',
  rootfs: '/pool/c1-root/rootfs', seedDir: '/state/instances/c1/seed', consoleFifo: '/state/run/c1/console.fifo',
  appEtc: [], volumeMounts: [{ source: '/pool/data', destination: '/data', readonly: false }], ...over,
});

test('names: runtime id and cgroup path carry the daemon prefix', () => {
  assert.equal(runtimeIdOf('p', 'c1'), 'p-c1');
  assert.equal(cgroupPathOf('p', 'c1'), '/nimbo-p/c1');
});

test('a system container runs /sbin/init with seed, console FIFO, volumes and the init capabilities', () => {
  const s = containerSpec(specInput());
  assert.equal(s.kind, 'system');
  assert.deepEqual(s.process.args, ['/sbin/init']);
  assert.deepEqual(s.idmap, { hostId: 1_065_536, size: 65536 });
  assert.deepEqual(s.mounts!.map((m) => m.destination), ['/.nimbo/seed', '/.nimbo/console', '/data']);
  assert.deepEqual(s.extraCapabilities, ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN', 'CAP_SYS_BOOT']);
  assert.deepEqual(s.limits, { cpus: 2, memoryBytes: 512 * 1024 ** 2, pids: 512 });
  // What runc gets renders (the golden tests of oci-config cover the rest).
  assert.equal(renderOciConfig(s, { cgroupVersion: 2, unifiedCgroup: true, arch: 'amd64' }).linux.cgroupsPath, '/nimbo-p/c1');
});

test('an application container runs its process with /etc files first, no extra capabilities, and disk throttles on the root disk', () => {
  const app = { args: ['/bin/app', '-x'], env: ['A=1'], cwd: '/srv', uid: 1000, gid: 1000, restart: 'never' as const };
  const ct: ContainerInfo = { ...system, kind: 'app', app, cpuWeight: 200, swapBytes: 0, disk: { readBps: 1000 } };
  const etc = [{ source: '/state/instances/c1/etc/hosts', destination: '/etc/hosts', readonly: true }];
  const s = containerSpec(specInput({ container: ct, appEtc: etc, rootDisk: { major: 8, minor: 0 } }));
  assert.equal(s.kind, 'app');
  assert.deepEqual(s.process, { args: app.args, env: app.env, cwd: '/srv', uid: 1000, gid: 1000 });
  assert.deepEqual(s.mounts!.map((m) => m.destination), ['/etc/hosts', '/data']);
  assert.deepEqual(s.extraCapabilities, []);
  assert.deepEqual(s.limits.blkioThrottle, [{ major: 8, minor: 0, readBps: 1000 }]);
  assert.equal(s.limits.cpuWeight, 200);
  assert.equal(s.limits.swapBytes, 0);
});

test('application containers: /etc texts, addresses and a default route only off isolated networks', () => {
  const nics = [nic('eth0', 'tap0'), nic('eth1', 'tap1', { network: 'iso', address: '10.8.0.2/24' })];
  const nets = new Map([
    ['net0', { name: 'net0', gateway: '10.9.0.1', mode: 'nat' }],
    ['iso', { name: 'iso', gateway: '10.8.0.1', mode: 'isolated' }],
  ]);
  const t = appEtcTexts('web', nics, nets);
  assert.equal(t.hostname, 'web\n');
  assert.match(t.hosts, /^10\.9\.0\.5\tweb\.net0 web$/m);
  assert.match(t.hosts, /^10\.8\.0\.2\tweb\.iso web$/m);
  assert.equal(t['resolv.conf'], 'nameserver 10.9.0.1\nsearch net0 iso\n');
  assert.deepEqual(appNetnsSetup(nics, nets), {
    addresses: [{ dev: 'eth0', cidr: '10.9.0.5/24' }, { dev: 'eth1', cidr: '10.8.0.2/24' }],
    defaultRoute: { via: '10.9.0.1', dev: 'eth0' },
  });
  assert.equal(appNetnsSetup(nics.slice(1), nets).defaultRoute, undefined);
});

test('boot: an old runtime state is deleted, then create → plumb → start, with the exit shim options of the kind', async () => {
  const log: string[] = [];
  const rt = new FakeRuntime(log);
  rt.status = 'stopped';
  const paths = hostPaths();
  const exec = new FakeExec();
  const spec = containerSpec(specInput());
  await createAndStart(
    { exec, runtime: rt.runtime, net: fakeNet(log), log: silentLogger(), netnsPaths: paths, cgroupRoot: tmp() },
    { spec, bundle: '/b', runDir: '/run/c1', container: system, nics: [nic('eth0', 'tap0')], setup: {} },
  );
  assert.deepEqual(log.map((l) => l.split(' ')[0]), ['state', 'delete', 'create', 'plug', 'start']);
  const createOpts = JSON.parse(log[2]!.split(' ').slice(3).join(' '));
  assert.deepEqual(createOpts, { stdoutPath: '/run/c1/serial.log', start: false, logMaxBytes: 1024 * 1024, exitFile: '/run/c1/exit.json', consoleFifo: '/run/c1/console.fifo' });
  assert.equal(log[3], 'plug p-c1 eth0 {"attachPid":4242}');

  // An application container gets an exit file instead of the console FIFO, and its addresses.
  const log2: string[] = [];
  const app: ContainerInfo = { ...system, kind: 'app', app: { args: ['/a'], env: [], cwd: '/', uid: 0, gid: 0, restart: 'never' } };
  const setup = { addresses: [{ dev: 'eth0', cidr: '10.9.0.5/24' }] };
  await createAndStart(
    { exec, runtime: new FakeRuntime(log2).runtime, net: fakeNet(log2), log: silentLogger(), netnsPaths: paths, cgroupRoot: tmp() },
    { spec: containerSpec(specInput({ container: app })), bundle: '/b', runDir: '/run/c1', container: app, nics: [nic('eth0', 'tap0')], setup },
  );
  assert.deepEqual(log2.map((l) => l.split(' ')[0]), ['state', 'create', 'plug', 'start']);
  assert.equal(JSON.parse(log2[1]!.split(' ').slice(3).join(' ')).exitFile, '/run/c1/exit.json');
  assert.equal(log2[2], `plug p-c1 eth0 ${JSON.stringify({ attachPid: 4242, ...setup })}`);
});

test('boot: a plumbing failure deletes the created container and the netns name, and is thrown', async () => {
  const log: string[] = [];
  const rt = new FakeRuntime(log);
  const paths = hostPaths();
  writeFileSync(join(paths.netnsDir, 'p-c1'), '');
  const exec = new FakeExec();
  await assert.rejects(
    createAndStart(
      { exec, runtime: rt.runtime, net: fakeNet(log, true), log: silentLogger(), netnsPaths: paths, cgroupRoot: tmp() },
      { spec: containerSpec(specInput()), bundle: '/b', runDir: '/run/c1', container: system, nics: [nic('eth0', 'tap0')], setup: {} },
    ),
    /veth failed/,
  );
  assert.deepEqual(log.map((l) => l.split(' ')[0]), ['state', 'create', 'plug', 'delete']);
  assert.equal(rt.status, 'absent');
  assert.deepEqual(exec.lines(), ['ip netns del p-c1']);
});

test('netns: limits are applied only with limits set or a shaper left in /sys/class/net; a netns name is dropped only when it exists', async () => {
  const log: string[] = [];
  const paths = hostPaths();
  mkdirSync(join(paths.classNet, ifbNameFor('tap2')));
  await plumbNetns(fakeNet(log), 'ns1', [nic('eth0', 'tap0'), nic('eth1', 'tap1', { ingressBps: 1000 }), nic('eth2', 'tap2')], 7, {}, paths);
  assert.deepEqual(log, ['plug ns1 eth0,eth1,eth2 {"attachPid":7}', 'limits tap1', 'limits tap2']);
  const exec = new FakeExec();
  await dropNetns(exec, 'ns1', paths);
  assert.deepEqual(exec.lines(), []);
  writeFileSync(join(paths.netnsDir, 'ns1'), '');
  await dropNetns(exec, 'ns1', paths);
  assert.deepEqual(exec.lines(), ['ip netns del ns1']);
});

test('cgroups: the OOM counter of v2 and v1 hosts, null when unknown; the parent cgroup goes only once empty', () => {
  const v2 = tmp();
  writeFileSync(join(v2, 'cgroup.controllers'), 'memory\n');
  mkdirSync(join(v2, 'nimbo-p', 'c1'), { recursive: true });
  writeFileSync(join(v2, 'nimbo-p', 'c1', 'memory.events'), 'low 0\nhigh 0\nmax 4\noom 2\noom_kill 3\n');
  assert.equal(readOomKills('/nimbo-p/c1', v2), 3);
  assert.equal(readOomKills('/nimbo-p/absent', v2), null);
  const v1 = tmp();
  mkdirSync(join(v1, 'memory', 'nimbo-p', 'c1'), { recursive: true });
  writeFileSync(join(v1, 'memory', 'nimbo-p', 'c1', 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 5\n');
  assert.equal(readOomKills('/nimbo-p/c1', v1), 5);

  pruneCgroupParent('nimbo-p', v2); // still holds c1
  assert.ok(readOomKills('/nimbo-p/c1', v2) === 3);
  mkdirSync(join(v1, 'pids', 'nimbo-p'), { recursive: true });
  pruneCgroupParent('nimbo-p', v1); // v1: every hierarchy; pids' is empty, memory's is not
  assert.deepEqual([readOomKills('/nimbo-p/c1', v1)], [5]);
  assert.throws(() => readFileSync(join(v1, 'pids', 'nimbo-p')), /ENOENT/);
});

test('lifecycle by run dir: state, shutdown with the stop signal, kill, pause, resume; exit code; live usage; teardown order', async () => {
  const log: string[] = [];
  const rt = new FakeRuntime(log);
  const paths = hostPaths();
  const exec = new FakeExec();
  const cg = tmp();
  const lc = new RuncLifecycle(rt.runtime, exec, { netns: paths, cgroupRoot: cg });
  const runDir = tmp();
  writeFileSync(join(runDir, CONTAINER_MARKER), JSON.stringify({ id: 'p-c1', stopSignal: 'SIGRTMIN+4', netns: 'p-c1' }));
  writeFileSync(join(paths.netnsDir, 'p-c1'), '');
  for (const [s, want] of [['created', 'running'], ['running', 'running'], ['paused', 'paused'], ['stopped', 'stopped'], ['absent', 'stopped']] as const) {
    rt.status = s;
    assert.equal(await lc.state(runDir), want);
  }
  rt.status = 'running';
  assert.deepEqual(await lc.live('p-c1'), { pid: 4242, usage: { cpuSeconds: 1.235, memoryBytes: 1000, pids: 3 } });
  assert.equal(await lc.initPid('p-c1', 'c1'), 4242);
  log.length = 0;
  await lc.pause(runDir);
  await lc.resume(runDir);
  await lc.shutdown(runDir, 5000);
  assert.deepEqual(log, ['pause p-c1', 'resume p-c1', 'stop p-c1 SIGRTMIN+4 5000', 'delete p-c1 force']);
  assert.deepEqual(exec.lines(), ['ip netns del p-c1']);
  assert.deepEqual(await lc.live('p-c1'), { pid: null });
  await assert.rejects(lc.initPid('p-c1', 'c1'), /container c1 is not running/);
  log.length = 0;
  await lc.kill(runDir); // absent: nothing to delete
  assert.deepEqual(log, ['state p-c1']);

  assert.equal(lc.exitCode(runDir), null);
  writeFileSync(join(runDir, 'exit.json'), JSON.stringify({ exitCode: 137 }));
  assert.equal(lc.exitCode(runDir), 137);

  rt.status = 'running';
  log.length = 0;
  mkdirSync(join(cg, 'x'));
  await lc.teardown({ id: 'p-c1', netns: 'p-c1', taps: ['tap0', 'tap1'], cgroupParent: 'nimbo-p' }, fakeNet(log));
  assert.deepEqual(log, ['state p-c1', 'delete p-c1 force', 'deltap tap0', 'deltap tap1']);
});
