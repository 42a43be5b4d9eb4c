import type { ChildProcess, SpawnOptions } from '../../../host/spawn.js';
import { constants as osConstants } from 'node:os';
import { chown, open, readFile, realpath, stat, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { invalid, NimboError } from '../../../lib/errors.js';
import { isAbsolute } from 'node:path';
import type { Logger } from '../../../lib/log.js';
import type { HostExec } from '../../../host/exec.js';
import type { RenderOptions } from './oci-config.js';

// Types, constants and small helpers of the runc driver (runc-driver.ts holds the driver itself).

/** Options of RuncDriver. */
export interface RuncDriverOptions {
  exec: HostExec;
  /** Runtime binary: name on PATH or absolute path (default 'runc'; 'crun' on cgroup-v2 hosts). */
  runtime?: string;
  /** The runtime's --root state dir (e.g. STATE/run/runc); created on first create(). */
  root: string;
  logger?: Logger;
  /** Interpreter for the tty exec helper (default 'python3'). */
  python?: string;
  /** For tests: replaces the host spawn in create() and execSpawn(). */
  spawn?: (cmd: string, args: string[], opts: SpawnOptions) => ChildProcess;
  /** State poll interval in stop() (default 100 ms). */
  pollMs?: number;
}

/** The runtime's view of a container ('absent': the runtime does not know the id). */
export type ContainerStatus = 'created' | 'running' | 'paused' | 'stopped' | 'absent';

export interface ContainerState {
  status: ContainerStatus;
  /** Host pid of init (0 when stopped or absent). */
  pid: number;
  /** Bundle dir the container was created from (absent: undefined). */
  bundle?: string;
}

export interface CreateOptions {
  /** File that receives init's stdout and stderr (opened O_APPEND, created 0600). */
  stdoutPath: string;
  /** Run `start` after `create` (default true). false leaves the container 'created'. */
  start?: boolean;
  /** Limit for `create` and `start` each (default 30 s). */
  timeoutMs?: number;
  /** Keep init's exit code in this file (JSON {exitCode}) when it ends: create runs under the exit shim (exit-shim.ts). */
  exitFile?: string;
  /** Bound the log: the shim writes it, renamed to stdoutPath.1 past this many bytes (create runs under the shim). */
  logMaxBytes?: number;
  /** A FIFO whose writes also go to the bounded log (a system container's console; needs logMaxBytes). */
  consoleFifo?: string;
}

/** A signal by name ('SIGTERM', 'TERM', 'SIGRTMIN+4') or number. */
export type ContainerSignal = string | number;

export interface StopOptions {
  /** Grace period before SIGKILL (default 10 s). */
  timeoutMs?: number;
  /**
   * First signal to init (default SIGTERM). busybox init: SIGTERM reboot / SIGUSR1 halt /
   * SIGUSR2 poweroff (all end the container); systemd: SIGRTMIN+3 halt, SIGRTMIN+4 poweroff
   * (SIGTERM makes systemd re-execute itself, not stop). A plain program as init (pid 1 of
   * its namespace) ignores any signal it has no handler for, so it only stops at SIGKILL.
   */
  signal?: ContainerSignal;
}

export interface ExecOptions {
  /** Extra KEY=VALUE entries on top of the container's process env. */
  env?: string[];
  cwd?: string;
  /** Container uid/gid (default: the init process's user). */
  uid?: number;
  gid?: number;
  /** Written to the process's stdin (default: empty stdin). */
  input?: string | Buffer;
  /** SIGTERM to the process after this long, SIGKILL to runc 5 s later (default 60 s). */
  timeoutMs?: number;
}

export interface ExecSpawnOptions {
  /** Give the process a pty (stdout and stderr then arrive together on child.stdout). */
  tty: boolean;
  env?: string[];
  cwd?: string;
  uid?: number;
  gid?: number;
  /** Initial pty size (tty only; default 24x80). */
  rows?: number;
  cols?: number;
}

export interface ContainerStats {
  /** Total CPU time used, in nanoseconds. */
  cpuNs: number;
  /** Memory in use (cgroup usage, page cache included), in bytes. */
  memoryBytes: number;
  /** The memory limit the cgroup reports (a huge number when unlimited). */
  memoryLimitBytes?: number;
  pids: number;
  /** 0 when unlimited. */
  pidsLimit?: number;
}

export const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const ENV_RE = /^[A-Za-z_][A-Za-z0-9_]*=[^\0]*$/;
export const CGROUP2_SUPER_MAGIC = 0x63677270;
export const KILL_WAIT_MS = 10_000;
export const CREATE_TIMEOUT_MS = 30_000;
/** TERM of tty exec sessions (the web console is xterm.js). */
export const DEFAULT_TERM = 'xterm-256color';
export const RUNC_ENV = (): NodeJS.ProcessEnv => ({ ...process.env, LC_ALL: 'C' });

/** 1 for legacy and hybrid cgroup hosts, 2 when /sys/fs/cgroup is cgroup2 (what runc itself checks). */
export async function detectCgroupVersion(mount = '/sys/fs/cgroup'): Promise<1 | 2> {
  return (await statfs(mount)).type === CGROUP2_SUPER_MAGIC ? 2 : 1;
}

/**
 * Where the host's cgroup2 (unified) hierarchy is mounted: /sys/fs/cgroup on v2 hosts,
 * /sys/fs/cgroup/unified on hybrid hosts (systemd's default before v247), null on pure v1 hosts.
 * runc 1.1 puts a container into its cgroupsPath there too, before it unshares the cgroup namespace.
 */
export async function unifiedCgroupMount(mount = '/sys/fs/cgroup'): Promise<string | null> {
  for (const m of [mount, join(mount, 'unified')]) {
    const t = await statfs(m).then((s) => s.type, () => 0);
    if (t === CGROUP2_SUPER_MAGIC) return m;
  }
  return null;
}

/** RenderOptions for this host (cgroup version, cgroup2 hierarchy, seccomp arch). */
export async function hostRenderOptions(): Promise<RenderOptions> {
  const arch = process.arch === 'arm64' ? 'arm64' : process.arch === 'x64' ? 'amd64' : undefined;
  if (!arch) throw invalid(`containers are not supported on ${process.arch}`);
  return { cgroupVersion: await detectCgroupVersion(), unifiedCgroup: (await unifiedCgroupMount()) !== null, arch };
}

/** Files of a cgroup2 directory its delegatee owns (cgroup v2 "Delegation Containment"): limits stay with the host. */
export const DELEGATED_CGROUP_FILES = ['cgroup.procs', 'cgroup.threads'] as const;

/**
 * Delegate a created container's cgroup2 directory to its root (host id `owner`): the directory
 * (so it may make sub-cgroups) and DELEGATED_CGROUP_FILES (so it may move its processes between
 * them). cgroup.subtree_control is not delegated: the tree serves systemd for process tracking
 * only, and a container cgroup with controllers enabled below it could not take the processes
 * `runc exec` puts there. Returns the directory, or null when the host has no cgroup2 hierarchy.
 */
export async function delegateCgroup(cgroupsPath: string, owner: { uid: number; gid: number }, mount = '/sys/fs/cgroup'): Promise<string | null> {
  if (!/^(\/[A-Za-z0-9_.@-]+)+$/.test(cgroupsPath) || cgroupsPath.split('/').some((c) => c === '.' || c === '..')) throw invalid(`bad cgroup path: ${JSON.stringify(cgroupsPath)}`);
  const root = await unifiedCgroupMount(mount);
  if (!root) return null;
  const dir = join(root, cgroupsPath);
  for (const p of [dir, ...DELEGATED_CGROUP_FILES.map((f) => join(dir, f))]) await chown(p, owner.uid, owner.gid);
  return dir;
}

/**
 * A signal as the number runc takes: runc 1.1 only knows plain names (SIGTERM), not
 * SIGRTMIN+n; glibc's SIGRTMIN is 34, which is what systemd means by SIGRTMIN+n.
 */
export function signalNumber(sig: ContainerSignal): number {
  let n: number | undefined;
  if (typeof sig === 'number') n = sig;
  else if (/^\d+$/.test(sig)) n = Number(sig);
  else {
    const name = sig.toUpperCase().startsWith('SIG') ? sig.toUpperCase() : `SIG${sig.toUpperCase()}`;
    const rt = /^SIGRT(MIN|MAX)([+-]\d+)?$/.exec(name);
    if (rt) n = (rt[1] === 'MIN' ? 34 : 64) + Number(rt[2] ?? 0);
    else n = (osConstants.signals as Record<string, number>)[name];
  }
  if (n === undefined || !Number.isInteger(n) || n < 1 || n > 64) throw invalid(`unknown signal: ${String(sig)}`);
  return n;
}

/** The runtime's own error message (runc logs `level=error msg="..."` to stderr). */
export function runtimeMessage(stderr: string): string {
  const msgs = [...stderr.matchAll(/msg="((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, '$1'));
  return (msgs.at(-1) ?? stderr.trim().split('\n').at(-1) ?? '').trim();
}

export function checkId(id: string): void {
  if (typeof id !== 'string' || !ID_RE.test(id)) throw invalid(`invalid container id: ${JSON.stringify(id)}`);
}

export function checkExecOpts(o: { env?: string[]; cwd?: string; uid?: number; gid?: number }): void {
  for (const e of o.env ?? []) if (!ENV_RE.test(e)) throw invalid(`exec env entries must be KEY=VALUE: ${JSON.stringify(e)}`);
  if (o.cwd !== undefined && (!isAbsolute(o.cwd) || o.cwd.includes('\0'))) throw invalid(`exec cwd must be absolute: ${JSON.stringify(o.cwd)}`);
  for (const [k, v] of [['uid', o.uid], ['gid', o.gid]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v < 2 ** 32 - 1)) throw invalid(`exec ${k} must be a non-negative integer`);
  }
  if (o.gid !== undefined && o.uid === undefined) throw invalid('exec gid needs uid');
}

/** runc exec flags for env/cwd/user. */
export function execFlags(o: { env?: string[]; cwd?: string; uid?: number; gid?: number }): string[] {
  const f: string[] = [];
  for (const e of o.env ?? []) f.push('--env', e);
  if (o.cwd !== undefined) f.push('--cwd', o.cwd);
  if (o.uid !== undefined) f.push('--user', o.gid !== undefined ? `${o.uid}:${o.gid}` : String(o.uid));
  return f;
}

export function parseStatus(s: unknown): ContainerStatus {
  switch (s) {
    case 'created':
    case 'running':
    case 'paused':
    case 'stopped':
      return s;
    case 'pausing':
      return 'paused';
    default:
      throw new NimboError('Internal', `unexpected container status from the runtime: ${String(s)}`);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function validSize(rows: number, cols: number): boolean {
  return [rows, cols].every((n) => Number.isInteger(n) && n >= 1 && n <= 65535);
}

/** Resize the pty of a tty execSpawn() child. */
export function resizeExec(child: ChildProcess, rows: number, cols: number): void {
  if (!validSize(rows, cols)) throw invalid('tty rows/cols must be integers 1-65535');
  const ctl = child.stdio[3];
  if (!ctl || !('write' in ctl)) throw invalid('not a tty exec');
  (ctl as NodeJS.WritableStream).write(`${rows} ${cols}\n`);
}

export async function readFrom(path: string, offset: number): Promise<string> {
  try {
    const fh = await open(path, 'r');
    try {
      const size = (await fh.stat()).size;
      const start = Math.max(offset, size - 4000);
      const buf = Buffer.alloc(Math.max(0, size - start));
      await fh.read(buf, 0, buf.length, start);
      return buf.toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}

/** Major and minor number of a device id (st_dev / st_rdev, the kernel's new_encode_dev layout). */
export function devNumbers(dev: number | bigint): { major: number; minor: number } {
  const d = BigInt(dev);
  const major = Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
  const minor = Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
  return { major, minor };
}

/**
 * The whole disk (major:minor) under the filesystem that holds `path`: where block I/O throttles
 * of a container's root volume apply (the kernel takes whole disks only, so a partition becomes
 * its disk). Filesystems that report an anonymous device (btrfs) are found by their mount source.
 * null when no block device is under it (tmpfs, NFS, ...).
 */
export async function wholeDiskOf(exec: HostExec, path: string, sys = '/sys'): Promise<{ major: number; minor: number } | null> {
  let d = devNumbers((await stat(path, { bigint: true })).dev);
  const known = (x: { major: number; minor: number }) => stat(join(sys, 'dev/block', `${x.major}:${x.minor}`)).then(() => true, () => false);
  if (!(await known(d))) {
    const r = await exec.run(['findmnt', '-n', '-o', 'SOURCE', '-T', path], { allowFailure: true });
    const source = r.code === 0 ? r.stdout.trim().split('\n')[0]!.replace(/\[.*$/, '') : '';
    const st = source.startsWith('/dev/') ? await stat(source, { bigint: true }).catch(() => null) : null;
    if (!st?.isBlockDevice()) return null;
    d = devNumbers(st.rdev);
    if (!(await known(d))) return null;
  }
  const dir = await realpath(join(sys, 'dev/block', `${d.major}:${d.minor}`));
  const isPartition = await stat(join(dir, 'partition')).then(() => true, () => false);
  if (!isPartition) return d;
  const m = /^(\d+):(\d+)$/.exec((await readFile(join(dirname(dir), 'dev'), 'utf8')).trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : null;
}
