// The instance-driver contract against the real drivers: qemu (TCG, a kernel + busybox initramfs) and
// runc (a busybox system container). Every host object carries a per-run prefix and is removed after.
import { buildImageTree } from './runc/test-image-tree.js';
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RealExec } from '../../host/exec.js';
import { silentLogger } from '../../lib/log.js';
import type { Nic } from '../../shared/api-types.js';
import { BridgeNetworkDriver } from '../network/bridge/bridge-driver.js';
import type { InstanceDriver, InstanceSpec, VolumeSnapshotPort } from './instance-driver.js';
import { writeBusyboxInitramfs } from './qemu/initramfs-fixture.js';
import { createQemuInstanceDriver } from './qemu/instance-driver.js';
import type { DriverOptions, DriverPorts } from './registry.js';
import { createRuncInstanceDriver } from './runc/instance-driver.js';
import { instanceDriverContract, until } from './testing/contract.js';

const exec = new RealExec();
const prefix = `ck${randomBytes(2).toString('hex')}`;
const kernel = existsSync('/boot') ? readdirSync('/boot').find((f) => /^vmlinuz-/.test(f)) : undefined;
const RUNC = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));
const why = (needs: [boolean, string][]) => (process.env.CI === 'true' ? false : (needs.find(([ok]) => !ok)?.[1] ?? false));
const root = process.getuid?.() === 0;
const MARKER = `CONTRACT-${prefix}`;
const BRIDGE = `${prefix}br`;
const subnet = `10.${200 + randomInt(0, 50)}.${randomInt(0, 256)}`;
// A per-VM QEMU id from the top of the range (as the qemu driver's system test), away from its ids.
const VM_ID = 2_000_000_000 + 65_535 - 300 - (process.pid % 100);
const dir = mkdtempSync(`/tmp/${prefix}-`);
chmodSync(dir, 0o755); // QEMU's uid and the container's mapped root must traverse it

const vols: VolumeSnapshotPort = { create: async () => undefined, restore: async () => undefined, remove: async () => undefined };
const net = new BridgeNetworkDriver({ exec });
/** Driver ports over one test bridge: every NIC's network is that bridge. */
const ports: DriverPorts = {
  exec,
  log: silentLogger(),
  network: {
    createTap: (tap, _network, owner) => net.createTap(tap, BRIDGE, owner),
    deleteTap: (tap) => net.deleteTap(tap),
    tapExists: (tap) => net.tapExists(tap),
    plugNetns: (netns, nics, setup) => net.plugNetns(netns, nics.map((n) => ({ host: n.tap, bridge: BRIDGE, peer: n.name, mac: n.mac })), setup),
    applyLimits: async () => undefined,
  },
};
const opts: DriverOptions = { stateDir: dir, prefix, qemuUser: 'nimbo-qemu', accelerator: 'tcg', containerRuntime: RUNC ?? 'runc' };
let bridgeMade = false;

async function bridge(): Promise<void> {
  if (bridgeMade) return;
  await exec.run(['ip', 'link', 'add', 'name', BRIDGE, 'type', 'bridge']);
  bridgeMade = true;
  await exec.run(['ip', 'link', 'set', BRIDGE, 'up']);
}

async function driverOf(make: (p: DriverPorts, o: DriverOptions) => Promise<InstanceDriver | { unavailable: string }>): Promise<InstanceDriver> {
  await bridge();
  const d = await make(ports, opts);
  if ('unavailable' in d) throw new Error(`driver not available: ${d.unavailable}`);
  return d;
}

const hotNic = (n: number, tap: string): Nic => ({ name: 'eth1', network: 'ct', mac: `52:54:00:c7:00:0${n}`, address: `${subnet}.${10 + n}/24`, tap });
const networks = new Map([['ct', { name: 'ct', gateway: `${subnet}.1`, mode: 'isolated' }]]);

/** Host links this run left, bridge aside. */
async function links(): Promise<string[]> {
  const out = (await exec.run(['ip', '-o', 'link', 'show'])).stdout;
  return [...out.matchAll(/^\d+:\s+([^:@\s]+)/gm)].map((m) => m[1]!).filter((n) => n.startsWith(prefix) && n !== BRIDGE);
}

/** Live processes whose command line names `needle` (a zombie counts as gone). */
function processesNaming(needle: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .filter((p) => {
      try {
        return !/^State:\s+Z/m.test(readFileSync(`/proc/${p}/status`, 'utf8')) && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}

const mountsUnder = (p: string) => readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(p));
const exists = (what: string, p: string) => (existsSync(p) ? [`${what} ${p}`] : []);

async function cleanupAll(): Promise<void> {
  const runcRoot = join(dir, 'run', 'runc');
  if (RUNC && existsSync(runcRoot)) {
    const ls = await exec.run([RUNC, '--root', runcRoot, 'list', '-q'], { allowFailure: true });
    for (const id of ls.stdout.split('\n').filter(Boolean)) await exec.run([RUNC, '--root', runcRoot, 'delete', '--force', id], { allowFailure: true });
  }
  for (const pid of processesNaming(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const m of mountsUnder(dir).reverse()) await exec.run(['umount', '-l', m], { allowFailure: true });
  const ns = (await exec.run(['ip', 'netns', 'list'], { allowFailure: true })).stdout;
  for (const m of ns.matchAll(new RegExp(`^(${prefix}-[0-9a-f]+)`, 'gm'))) await exec.run(['ip', 'netns', 'del', m[1]!], { allowFailure: true });
  for (const l of await links()) await exec.run(['ip', 'link', 'del', l], { allowFailure: true });
  if (bridgeMade) await exec.run(['ip', 'link', 'del', BRIDGE], { allowFailure: true });
  bridgeMade = false;
  const cg = '/sys/fs/cgroup';
  for (const c of existsSync(join(cg, 'cgroup.controllers')) ? [cg] : readdirSync(cg).map((x) => join(cg, x))) {
    const top = join(c, `nimbo-${prefix}`);
    if (!existsSync(top)) continue;
    for (const leaf of readdirSync(top, { withFileTypes: true }).filter((e) => e.isDirectory())) await exec.run(['rmdir', join(top, leaf.name)], { allowFailure: true });
    await exec.run(['rmdir', top], { allowFailure: true });
  }
}

process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

// ---- qemu ----
const vmDir = join(dir, 'vm');
instanceDriverContract({
  label: 'qemu (TCG)',
  skip: why([
    [root, 'needs root'],
    [existsSync('/usr/bin/qemu-system-x86_64'), 'needs qemu-system-x86'],
    [!!kernel, 'needs /boot/vmlinuz-* (linux-image-amd64)'],
    [existsSync('/bin/busybox'), 'needs busybox-static'],
  ]),
  timeoutMs: 180_000,
  driver: () => driverOf(createQemuInstanceDriver),
  allocateId: async () => VM_ID,
  hostIds: (uuid) => ({ runDir: join(vmDir, 'run', uuid), instanceDir: join(vmDir, 'inst', uuid) }),
  async spec(ref): Promise<InstanceSpec> {
    const disk = join(vmDir, 'root.qcow2');
    if (!existsSync(disk)) {
      mkdirSync(vmDir, { recursive: true, mode: 0o755 });
      writeBusyboxInitramfs(join(vmDir, 'initrd.cpio'), MARKER);
      await exec.run(['qemu-img', 'create', '-q', '-f', 'qcow2', disk, '32M']);
      await exec.run(['chown', `${VM_ID}:${VM_ID}`, disk]);
      chmodSync(disk, 0o600);
    }
    return {
      ...ref,
      cpus: 1,
      memoryBytes: 256 * 1024 ** 2,
      accelerator: 'tcg',
      boot: { kind: 'direct', kernel: join('/boot', kernel!), initrd: join(vmDir, 'initrd.cpio'), cmdline: 'console=ttyS0 panic=-1' },
      root: { pool: 'ck', volume: 'root', path: disk, format: 'qcow2' },
      nics: [],
      volumes: [],
      networks,
    };
  },
  prepareInput: () => ({ seed: { 'meta-data': 'instance-id: contract\n', 'user-data': '#cloud-config\n' }, root: 'new' }),
  ready: async (spec, d) => void (await until('the boot marker', 120_000, () => d.consoleLog(spec, 65536).includes(MARKER))),
  nic: async () => hotNic(1, `${prefix}t1`),
  async volume() {
    const path = join(vmDir, 'data.raw');
    await exec.run(['qemu-img', 'create', '-q', '-f', 'raw', path, '16M']);
    return { pool: 'ck', volume: 'data', path, format: 'raw', limits: { bytesRead: 0, bytesWrite: 0, iopsRead: 0, iopsWrite: 0 } };
  },
  vols,
  stopTimeoutMs: 3000, // the busybox init ignores ACPI: the hard stop after the timeout is what is tested
  eventTimeoutMs: 20_000,
  leftovers: async (spec) => [
    ...exists('run dir', spec.hostIds.runDir),
    ...exists('instance dir', spec.hostIds.instanceDir),
    ...processesNaming(spec.hostIds.runDir).map((p) => `process ${p}`),
    ...(await links()).map((l) => `link ${l}`),
  ],
  cleanup: cleanupAll,
});

// ---- runc ----
const ctDir = join(dir, 'ct');
const slot = 1000 + randomInt(0, 2000);

/** A busybox tree (the image's unpacked tree: root-owned; the driver shifts it for the container). */
const busyboxTree = (tree: string) => buildImageTree(exec, tree);

let ctDriver: InstanceDriver | undefined;
/** Output of a command inside the container under test. */
async function inside(spec: InstanceSpec, args: string[]): Promise<string> {
  const child = await ctDriver!.exec(spec, args, { tty: false });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  await new Promise((r) => child.once('close', r));
  return out;
}

instanceDriverContract({
  label: 'runc (system container)',
  skip: why([
    [root, 'needs root'],
    [!!RUNC, 'needs runc'],
    [existsSync('/bin/busybox'), 'needs busybox-static'],
  ]),
  timeoutMs: 120_000,
  driver: async () => (ctDriver = await driverOf(createRuncInstanceDriver)),
  planInput: () => ({ image: 'tiny' }),
  allocateId: async () => slot,
  hostIds: (uuid) => ({ runDir: join(ctDir, 'run', uuid), instanceDir: join(ctDir, 'inst', uuid), runtimeId: `${prefix}-${uuid}`, cgroup: `/nimbo-${prefix}/${uuid}` }),
  async spec(ref): Promise<InstanceSpec> {
    const rootDir = join(ctDir, 'root');
    mkdirSync(rootDir, { recursive: true, mode: 0o755 });
    if (!existsSync(join(ctDir, 'lower'))) await busyboxTree(join(ctDir, 'lower'));
    return { ...ref, cpus: 1, memoryBytes: 64 * 1024 ** 2, root: { pool: 'ck', volume: 'root', path: rootDir }, nics: [], volumes: [], networks };
  },
  prepareInput: () => ({ seed: { 'meta-data': 'instance-id: contract\n' }, root: 'new', lowerDir: join(ctDir, 'lower') }),
  nic: async () => hotNic(2, `${prefix}v1`),
  async volume() {
    const path = join(ctDir, 'data');
    mkdirSync(path, { recursive: true });
    return { pool: 'ck', volume: 'data', path, mountPath: '/mnt', limits: { bytesRead: 0, bytesWrite: 0, iopsRead: 0, iopsWrite: 0 } };
  },
  sees: {
    nic: async (spec, nic) => (await inside(spec, ['cat', '/proc/net/dev'])).includes(`${nic.name}:`),
    volume: async (spec, vol) => (await inside(spec, ['cat', '/proc/mounts'])).split('\n').some((l) => l.split(' ')[1] === vol.mountPath),
  },
  vols,
  leftovers: async (spec) => {
    const ls = (await exec.run([RUNC!, '--root', join(dir, 'run', 'runc'), 'list', '-q'], { allowFailure: true })).stdout.split('\n').filter(Boolean);
    const ns = (await exec.run(['ip', 'netns', 'list'], { allowFailure: true })).stdout;
    return [
      ...exists('run dir', spec.hostIds.runDir),
      ...exists('instance dir', spec.hostIds.instanceDir),
      ...ls.filter((id) => id === spec.hostIds.runtimeId).map((id) => `runc container ${id}`),
      ...(ns.includes(`${prefix}-`) ? [`netns ${prefix}-…`] : []),
      ...mountsUnder(join(ctDir, 'root')).map((m) => `mount ${m}`),
      ...(await links()).map((l) => `link ${l}`),
    ];
  },
  cleanup: cleanupAll,
});
