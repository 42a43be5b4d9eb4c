import { isAbsolute, posix } from 'node:path';
import { invalid } from '../../../lib/errors.js';
import { cpusetList } from '../../../lib/cpuset.js';
import type { OciConfig, OciDevice, OciDeviceRule, OciIdMapping, OciMount, OciSeccompRule, OciThrottle } from './oci-types.js';
import { DEFAULT_CAPABILITIES, DEVICES, KNOWN_CAPABILITIES, MASKED_PATHS, READONLY_PATHS } from './oci-defaults.js';
import { renderSeccomp, SECCOMP_ARCHES } from './oci-seccomp.js';

export type { OciConfig, OciDevice, OciDeviceRule, OciIdMapping, OciMount, OciSeccompRule, OciThrottle } from './oci-types.js';
export { DEFAULT_CAPABILITIES, KNOWN_CAPABILITIES, MASKED_PATHS, READONLY_PATHS } from './oci-defaults.js';
export { renderSeccomp } from './oci-seccomp.js';

/*
 * The OCI runtime config (bundle/config.json) of a nimbo container: a pure, validated renderer.
 * Key order is fixed by construction, so JSON.stringify gives byte-stable output (golden tests).
 *
 * Every container gets a user namespace (container root = an unprivileged host uid/gid range),
 * its own pid, mount, uts, ipc and cgroup namespaces, and a network namespace (a fresh one, or
 * an existing one by path).
 */

/** OCI spec version written into config.json (runc 1.1 implements 1.0.2). */
export const OCI_VERSION = '1.0.2';

/**
 * system: a whole OS userland (busybox init, systemd); noNewPrivileges stays false (su, sudo,
 * ping may rely on setuid/file caps). app: one program; noNewPrivileges true.
 */
export type ContainerKind = 'system' | 'app';

/** Container id -> host id mapping: container ids [0, size) are host ids [hostId, hostId+size). */
export interface IdMap {
  /** First host uid/gid of the range (e.g. 1000000 + n*65536); never 0. */
  hostId: number;
  /** Number of ids mapped (>= 65536 so nobody/nogroup 65534 exist). */
  size: number;
}

/** The container's first process. */
export interface ContainerProcess {
  args: string[];
  /** KEY=VALUE entries; give PATH yourself. */
  env: string[];
  cwd: string;
  /** uid/gid inside the container (must be below idmap.size). */
  uid: number;
  gid: number;
  /** Always false: nimbo containers never get a terminal for init (logs go to a file). */
  terminal?: false;
}

/** Resource limits; everything optional (unset = unlimited / runtime default). */
export interface ContainerLimits {
  /** CPU count, >= 1 (fractions allowed): quota = cpus * period, period 100 ms. */
  cpus?: number;
  /** Relative CPU weight 1-10000, cgroup v2 scale (default 100). v1: shares = weight*1024/100. */
  cpuWeight?: number;
  /** Host cores the container may run on (cpuset.cpus); absent = all. */
  cpuset?: number[];
  /** Memory limit in bytes, >= 4 MiB. */
  memoryBytes?: number;
  /**
   * Swap the container may use on top of memoryBytes (needs memoryBytes). Rendered as OCI
   * memory.swap = memoryBytes + swapBytes (the memory+swap total): runc writes that to v1
   * memory.memsw.limit_in_bytes and converts it to v2 memory.swap.max = swap total - memory.
   * 0 = no swap. Unset = no swap limit at all (v1 needs swapaccount=1 for any value here:
   * without memory.memsw.* files runc fails to start the container).
   */
  swapBytes?: number;
  /** Most tasks (processes + threads), >= 1. */
  pids?: number;
  /** Block I/O weight on the v1 scale 10-1000 (runc converts it for v2 io.weight/io.bfq.weight). */
  blkioWeight?: number;
  /**
   * Block I/O throttles per whole-disk device (runc writes v1 blkio.throttle.{read,write}_{bps,iops}_device
   * and v2 io.max). Partitions are refused by the kernel: give the disk that holds them.
   */
  blkioThrottle?: BlkioThrottle[];
  /** RLIMIT_NOFILE soft=hard; unset = inherited from the runtime (the daemon's limit). */
  nofile?: number;
}

/** Throttles of one block device (major:minor of a whole disk); each rate optional, >= 1. */
export interface BlkioThrottle {
  major: number;
  minor: number;
  readBps?: number;
  writeBps?: number;
  readIops?: number;
  writeIops?: number;
}

/** An extra bind mount from the host. */
export interface BindMount {
  source: string;
  destination: string;
  readonly?: boolean;
}

/** Everything renderOciConfig needs for one container. */
export interface ContainerSpec {
  /** Runtime id (runc's container id); also written as an annotation. */
  id: string;
  kind: ContainerKind;
  hostname: string;
  /** Absolute path of the root filesystem, owned by the idmap range. */
  rootfs: string;
  readonlyRootfs?: boolean;
  process: ContainerProcess;
  idmap: IdMap;
  /**
   * Join this existing network namespace (e.g. /run/netns/NAME, made by `ip netns add`).
   * Such a netns belongs to the host's user namespace: the container can never configure its
   * interfaces (not even with CAP_NET_ADMIN), and sysfs cannot be mounted, so /sys becomes a
   * read-only bind of the host's /sys (showing the host's network devices in /sys/class/net).
   * Unset (recommended): the runtime makes a fresh netns owned by the container's user
   * namespace, with lo up; the host moves a veth into /proc/PID/ns/net between create and start
   * (RuncDriver.create with start: false). CAP_NET_ADMIN in extraCapabilities then lets the
   * container configure its own interfaces (DHCP client, ifupdown), and only those.
   */
  netnsPath?: string;
  limits: ContainerLimits;
  /** Cgroup path (cgroupfs driver), absolute, e.g. /nimbo-PREFIX/NAME. */
  cgroupsPath: string;
  /** Extra bind mounts, mounted after the standard ones, in the order given. */
  mounts?: BindMount[];
  /** Capabilities added to DEFAULT_CAPABILITIES (e.g. CAP_SYS_ADMIN for systemd images). */
  extraCapabilities?: string[];
}

/** Host facts the rendering depends on. */
export interface RenderOptions {
  /** 2 when /sys/fs/cgroup is cgroup2 (unified); 1 for legacy and hybrid hosts. Default 2. */
  cgroupVersion?: 1 | 2;
  /**
   * Whether the host has a cgroup2 hierarchy the runtime puts the container in: always on v2
   * hosts; on hybrid hosts when /sys/fs/cgroup/unified is cgroup2 (runc then joins the
   * container's cgroup there as well, without controllers). A system container then gets its
   * own writable cgroup2 tree at /sys/fs/cgroup (see systemMounts). Default: cgroupVersion === 2.
   */
  unifiedCgroup?: boolean;
  /** Seccomp architectures. Default amd64. */
  arch?: 'amd64' | 'arm64';
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const HOSTNAME_RE = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const CGROUP_RE = /^(\/[A-Za-z0-9_.@-]+)+$/;
const ENV_RE = /^[A-Za-z_][A-Za-z0-9_]*=/;
const MIB = 1024 * 1024;
const MAX_ID = 2 ** 32 - 1;
const CPU_PERIOD = 100_000;
const MAX_BYTES = Number.MAX_SAFE_INTEGER;

function check(ok: boolean, msg: string): void {
  if (!ok) throw invalid(msg);
}

const isInt = (n: unknown, min: number, max: number): n is number =>
  typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max;

function checkPath(p: unknown, what: string): void {
  check(
    typeof p === 'string' && isAbsolute(p) && !/[\0\n]/.test(p) && !p.split('/').includes('..'),
    `${what} must be an absolute path without '..': ${JSON.stringify(p)}`,
  );
}

function validate(spec: ContainerSpec): void {
  check(typeof spec.id === 'string' && ID_RE.test(spec.id), `invalid container id: ${JSON.stringify(spec.id)}`);
  check(spec.kind === 'system' || spec.kind === 'app', `unknown container kind: ${JSON.stringify(spec.kind)}`);
  check(typeof spec.hostname === 'string' && HOSTNAME_RE.test(spec.hostname), `invalid hostname: ${JSON.stringify(spec.hostname)}`);
  checkPath(spec.rootfs, 'rootfs');
  check(posix.normalize(spec.rootfs) !== '/', 'rootfs must not be /');

  const { idmap } = spec;
  check(isInt(idmap?.hostId, 1, MAX_ID), 'idmap.hostId must be an integer >= 1 (container root must not be host root)');
  check(isInt(idmap.size, 65536, MAX_ID), 'idmap.size must be an integer >= 65536');
  check(idmap.hostId + idmap.size - 1 <= MAX_ID, 'idmap range runs past the largest uid');

  const p = spec.process;
  check(Array.isArray(p?.args) && p.args.length > 0 && p.args.every((a) => typeof a === 'string' && !a.includes('\0')), 'process.args must be a non-empty list of strings');
  check(p.args[0] !== '', 'process.args[0] must not be empty');
  check(Array.isArray(p.env) && p.env.every((e) => typeof e === 'string' && ENV_RE.test(e) && !e.includes('\0')), 'process.env entries must be KEY=VALUE');
  checkPath(p.cwd, 'process.cwd');
  check(isInt(p.uid, 0, idmap.size - 1), `process.uid must be an integer in [0, ${idmap.size})`);
  check(isInt(p.gid, 0, idmap.size - 1), `process.gid must be an integer in [0, ${idmap.size})`);
  check(p.terminal === undefined || p.terminal === false, 'process.terminal must be false');

  if (spec.netnsPath !== undefined) checkPath(spec.netnsPath, 'netnsPath');
  check(typeof spec.cgroupsPath === 'string' && CGROUP_RE.test(spec.cgroupsPath) && !spec.cgroupsPath.split('/').some((s) => s === '.' || s === '..'), `cgroupsPath must be an absolute cgroup path like /nimbo-x/name: ${JSON.stringify(spec.cgroupsPath)}`);

  const l = spec.limits ?? {};
  if (l.cpus !== undefined) check(typeof l.cpus === 'number' && Number.isFinite(l.cpus) && l.cpus >= 1 && l.cpus <= 4096, 'limits.cpus must be a number >= 1');
  if (l.cpuWeight !== undefined) check(isInt(l.cpuWeight, 1, 10000), 'limits.cpuWeight must be an integer 1-10000');
  if (l.cpuset !== undefined) check(Array.isArray(l.cpuset) && l.cpuset.length > 0 && l.cpuset.every((c) => isInt(c, 0, 4095)), 'limits.cpuset must be a non-empty list of core numbers 0-4095');
  if (l.memoryBytes !== undefined) check(isInt(l.memoryBytes, 4 * MIB, MAX_BYTES), 'limits.memoryBytes must be an integer >= 4 MiB');
  if (l.swapBytes !== undefined) {
    check(l.memoryBytes !== undefined, 'limits.swapBytes needs limits.memoryBytes');
    check(isInt(l.swapBytes, 0, MAX_BYTES - (l.memoryBytes ?? 0)), 'limits.swapBytes must be an integer >= 0');
  }
  if (l.pids !== undefined) check(isInt(l.pids, 1, 4_194_304), 'limits.pids must be an integer >= 1');
  if (l.blkioWeight !== undefined) check(isInt(l.blkioWeight, 10, 1000), 'limits.blkioWeight must be an integer 10-1000');
  if (l.nofile !== undefined) check(isInt(l.nofile, 64, 1 << 30), 'limits.nofile must be an integer >= 64');
  if (l.blkioThrottle !== undefined) {
    check(Array.isArray(l.blkioThrottle), 'limits.blkioThrottle must be a list');
    const seen = new Set<string>();
    for (const t of l.blkioThrottle) {
      check(isInt(t?.major, 1, 4095) && isInt(t.minor, 0, 1_048_575), 'limits.blkioThrottle devices need major (1-4095) and minor numbers');
      check(!seen.has(`${t.major}:${t.minor}`), `limits.blkioThrottle names ${t.major}:${t.minor} twice`);
      seen.add(`${t.major}:${t.minor}`);
      const rates = THROTTLES.map(([k]) => t[k]).filter((v) => v !== undefined);
      check(rates.length > 0, `limits.blkioThrottle for ${t.major}:${t.minor} sets no rate`);
      check(rates.every((v) => isInt(v, 1, MAX_BYTES)), 'limits.blkioThrottle rates must be integers >= 1');
    }
  }

  const dests = new Set<string>([...STANDARD_DESTINATIONS, ...(spec.kind === 'system' ? SYSTEM_DESTINATIONS : [])]);
  for (const m of spec.mounts ?? []) {
    checkPath(m.source, 'mount source');
    checkPath(m.destination, 'mount destination');
    const d = posix.normalize(m.destination).replace(/(.)\/+$/, '$1');
    check(d !== '/' && !dests.has(d) && !STANDARD_DESTINATIONS.some((s) => d.startsWith(`${s}/`)), `mount destination ${m.destination} is taken or reserved`);
    dests.add(d);
  }
  for (const c of spec.extraCapabilities ?? []) check(KNOWN_CAPABILITIES.includes(c), `unknown capability: ${JSON.stringify(c)}`);
}

const STANDARD_DESTINATIONS = ['/proc', '/dev', '/sys'];
/** Taken by systemMounts in a system container (binds below them are fine, on them not). */
const SYSTEM_DESTINATIONS = ['/run', '/run/lock', '/tmp'];

/**
 * What an OS init (systemd above all) expects of a container, as podman --systemd=always and
 * LXC provide it: /run, /run/lock and /tmp as fresh tmpfs (systemd refuses to boot with a
 * persistent /run, and tmpfiles assumes them empty at boot), and, when the host has a cgroup2
 * hierarchy, /sys/fs/cgroup as a writable cgroup2 mount. Mounted inside the container's cgroup
 * namespace, whose root is the container's own cgroup, it shows only that subtree; the host
 * delegates it (chowns the directory, cgroup.procs and cgroup.threads to the container's root,
 * see delegateCgroup) so systemd can make init.scope and its slices there, in pure unified mode.
 * The limit files stay host-owned: the container cannot raise its own limits. Without a cgroup2
 * hierarchy (pure v1 hosts) the read-only v1 view stays, and systemd cannot run.
 */
function systemMounts(unified: boolean): OciMount[] {
  return [
    ...(unified ? [{ destination: '/sys/fs/cgroup', type: 'cgroup2', source: 'cgroup2', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'rw'] }] : []),
    { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=755'] },
    { destination: '/run/lock', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'mode=1777', 'size=5120k'] },
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
  ];
}

function standardMounts(sysfsBind: boolean, cgroup2: boolean): OciMount[] {
  const sys: OciMount = sysfsBind
    ? // A sysfs mount needs CAP_SYS_ADMIN over the network namespace's owner: with a joined,
      // host-owned netns the user-namespaced container lacks it, so bind the host's /sys.
      { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
    : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] };
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    sys,
    ...(cgroup2 ? [] : [{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] }]),
  ];
}

function bindMount(m: BindMount): OciMount {
  return { destination: m.destination, type: 'bind', source: m.source, options: ['rbind', 'nosuid', 'nodev', m.readonly === true ? 'ro' : 'rw'] };
}

const THROTTLES = [
  ['readBps', 'throttleReadBpsDevice'],
  ['writeBps', 'throttleWriteBpsDevice'],
  ['readIops', 'throttleReadIOPSDevice'],
  ['writeIops', 'throttleWriteIOPSDevice'],
] as const;

/** cgroup v1 cpu.shares for a v2-scale weight (kernel's own equivalence: weight 100 = 1024 shares). */
export function weightToShares(weight: number): number {
  return Math.min(262144, Math.max(2, Math.round((weight * 1024) / 100)));
}

function resources(l: ContainerLimits, cgroupVersion: 1 | 2): OciConfig['linux']['resources'] {
  const devices: OciDeviceRule[] = [{ allow: false, access: 'rwm' }];
  for (const [, major, minor] of DEVICES) devices.push({ allow: true, type: 'c', major, minor, access: 'rwm' });
  devices.push({ allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' }); // /dev/console
  devices.push({ allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }); // ptmx
  devices.push({ allow: true, type: 'c', major: 136, access: 'rwm' }); // /dev/pts/*
  const r: OciConfig['linux']['resources'] = { devices };
  if (l.memoryBytes !== undefined) {
    r.memory = { limit: l.memoryBytes };
    if (l.swapBytes !== undefined) r.memory.swap = l.memoryBytes + l.swapBytes;
  }
  if (l.cpuWeight !== undefined || l.cpus !== undefined || l.cpuset !== undefined) {
    r.cpu = {};
    if (l.cpuset !== undefined) r.cpu.cpus = cpusetList(l.cpuset);
    if (l.cpuWeight !== undefined) r.cpu.shares = weightToShares(l.cpuWeight);
    if (l.cpus !== undefined) {
      r.cpu.quota = Math.round(l.cpus * CPU_PERIOD);
      r.cpu.period = CPU_PERIOD;
    }
  }
  if (l.pids !== undefined) r.pids = { limit: l.pids };
  if (l.blkioWeight !== undefined || l.blkioThrottle?.length) {
    const b: NonNullable<OciConfig['linux']['resources']['blockIO']> = {};
    if (l.blkioWeight !== undefined) b.weight = l.blkioWeight;
    for (const [k, field] of THROTTLES) {
      const list = (l.blkioThrottle ?? []).filter((t) => t[k] !== undefined).map((t) => ({ major: t.major, minor: t.minor, rate: t[k]! }));
      if (list.length) b[field] = list;
    }
    r.blockIO = b;
  }
  // runc maps shares to v2 weight with a linear formula that makes 1024 shares ~ weight 39;
  // on v2 the weight is written directly (runc rejects `unified` on v1 hosts).
  if (cgroupVersion === 2 && l.cpuWeight !== undefined) r.unified = { 'cpu.weight': String(l.cpuWeight) };
  return r;
}

/** The OCI config.json object for a container (pure; throws InvalidArgument on a bad spec). */
export function renderOciConfig(spec: ContainerSpec, opts: RenderOptions = {}): OciConfig {
  validate(spec);
  const cgroupVersion = opts.cgroupVersion ?? 2;
  const unified = opts.unifiedCgroup ?? cgroupVersion === 2;
  const arch = opts.arch ?? 'amd64';
  check(cgroupVersion === 1 || cgroupVersion === 2, 'cgroupVersion must be 1 or 2');
  check(cgroupVersion === 1 || unified, 'a cgroup v2 host always has a unified hierarchy');
  const delegated = spec.kind === 'system' && unified;
  check(arch in SECCOMP_ARCHES, `unsupported arch: ${String(arch)}`);
  const caps = [...DEFAULT_CAPABILITIES, ...(spec.extraCapabilities ?? []).filter((c, i, all) => !(DEFAULT_CAPABILITIES as readonly string[]).includes(c) && all.indexOf(c) === i)];
  const mapping = [{ containerID: 0, hostID: spec.idmap.hostId, size: spec.idmap.size }];
  const namespaces: { type: string; path?: string }[] = [
    { type: 'pid' },
    spec.netnsPath !== undefined ? { type: 'network', path: spec.netnsPath } : { type: 'network' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
    { type: 'user' },
    { type: 'cgroup' },
  ];
  const p = spec.process;
  const proc: OciConfig['process'] = {
    terminal: false,
    user: { uid: p.uid, gid: p.gid },
    args: [...p.args],
    env: [...p.env],
    cwd: p.cwd,
    capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps] },
    ...(spec.limits.nofile !== undefined ? { rlimits: [{ type: 'RLIMIT_NOFILE', hard: spec.limits.nofile, soft: spec.limits.nofile }] } : {}),
    noNewPrivileges: spec.kind === 'app',
  };
  return {
    ociVersion: OCI_VERSION,
    process: proc,
    root: { path: spec.rootfs, readonly: spec.readonlyRootfs === true },
    hostname: spec.hostname,
    mounts: [
      ...standardMounts(spec.netnsPath !== undefined, delegated),
      ...(spec.kind === 'system' ? systemMounts(unified) : []),
      ...(spec.mounts ?? []).map(bindMount),
    ],
    annotations: { 'org.nimbo.container.id': spec.id, 'org.nimbo.container.kind': spec.kind },
    linux: {
      uidMappings: mapping.map((m) => ({ ...m })),
      gidMappings: mapping.map((m) => ({ ...m })),
      resources: resources(spec.limits, cgroupVersion),
      cgroupsPath: spec.cgroupsPath,
      namespaces,
      devices: DEVICES.map(([path, major, minor]) => ({ path, type: 'c' as const, major, minor, fileMode: 0o666, uid: 0, gid: 0 })),
      seccomp: renderSeccomp(spec.kind, arch),
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
    },
  };
}

/** config.json text: two-space indented, trailing newline, stable key order. */
export function renderOciConfigJson(spec: ContainerSpec, opts: RenderOptions = {}): string {
  return `${JSON.stringify(renderOciConfig(spec, opts), null, 2)}\n`;
}
