// `nimbo admin uninstall`'s sweep: removes every host object of one daemon (its prefix, its state dir),
// whether or not the daemon runs and whether or not its database is readable. Each step lists what is
// there, removes what the rules of purge-plan.ts call ours, and goes on when one removal fails, so running
// it again finishes the job (and finds nothing the second time).
import { existsSync, readFileSync, readdirSync, realpathSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { HostExec } from '../host/exec.js';
import { statePaths } from './config.js';
import { parseMountinfo } from '../drivers/compute/runc/rootfs/mounts.js';
import { readValuesReadOnly } from '../store/sqlite/read-only.js';
import {
  type ProcInfo, type PurgeItem, cgroupName, checkPurgePrefix, checkStateDirForRemoval, isNimboTable, isNimbodArgv, linksToPurge,
  loopsToPurge, mountsToPurge, netnsToPurge, parseNetnsList, processesToPurge,
} from './purge-plan.js';

/** What the sweep needs. */
export interface PurgeOptions {
  exec: HostExec;
  prefix: string;
  stateDir: string;
  /** Told each object as it is removed (or fails to be). */
  say?: (line: string) => void;
  /** The cgroup mount (default /sys/fs/cgroup). */
  cgroupRoot?: string;
}

/** What one sweep did. */
export interface PurgeReport {
  removed: PurgeItem[];
  failed: { item: PurgeItem; error: string }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Remove every host object of the daemon with this prefix and state dir (see purge-plan.ts for the rules). */
export async function purgeHost(o: PurgeOptions): Promise<PurgeReport> {
  checkPurgePrefix(o.prefix);
  const stateDir = realOr(o.stateDir);
  const report: PurgeReport = { removed: [], failed: [] };
  const step = async (item: PurgeItem, work: () => Promise<unknown>) => {
    try {
      await work();
      report.removed.push(item);
      o.say?.(`${/process|nimbod|container$/.test(item.kind) ? 'stopped' : 'removed'} ${item.kind} ${item.name}`);
    } catch (e) {
      const error = (e as Error).message.split('\n')[0]!;
      report.failed.push({ item, error });
      o.say?.(`could not remove ${item.kind} ${item.name}: ${error}`);
    }
  };
  const run = (argv: string[]) => o.exec.run(argv, { timeoutMs: 60_000 });

  // 1. The daemon first, so that nothing re-creates what follows.
  for (const pid of daemonPids(stateDir)) await step({ kind: 'nimbod', name: `pid ${pid}` }, () => stopProcess(pid, 15_000));
  // 2. Containers through their runtime, then anything still in their cgroups.
  const runcRoot = join(stateDir, 'run', 'runc');
  if (existsSync(runcRoot)) {
    const ls = await o.exec.run(['runc', '--root', runcRoot, 'list', '-q'], { allowFailure: true });
    for (const id of ls.stdout.split('\n').filter(Boolean)) await step({ kind: 'container', name: id }, () => run(['runc', '--root', runcRoot, 'delete', '--force', id]));
  }
  const cgroups = cgroupDirs(o.cgroupRoot ?? '/sys/fs/cgroup', cgroupName(o.prefix));
  for (const pid of new Set(cgroups.flatMap(procsOf))) await step({ kind: 'container process', name: `pid ${pid}` }, () => stopProcess(pid, 5000, 'SIGKILL'));
  // 3. QEMU, dnsmasq, exit shims: processes of the state dir.
  for (const p of processesToPurge(stateDir, listProcesses(), process.pid)) {
    await step({ kind: 'process', name: `${p.pid} ${p.argv[0]}` }, () => stopProcess(p.pid, 5000, 'SIGKILL'));
  }
  // 4. Mounts of container roots and image extraction (state dir and pools), then their loop devices.
  const roots = [stateDir, ...poolPaths(stateDir)];
  for (let round = 0; round < 4; round++) {
    const mps = mountsToPurge(roots, parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')), (d) => existsSync(join(d, 'nimbo-root.json')));
    if (mps.length === 0) break;
    for (const mp of mps) {
      await step({ kind: 'mount', name: mp }, async () => {
        const r = await o.exec.run(['umount', mp], { allowFailure: true });
        if (r.code !== 0) await run(['umount', '-l', mp]);
      });
    }
  }
  const loops = await o.exec.run(['losetup', '-J', '-l'], { allowFailure: true });
  for (const dev of loopsToPurge(stateDir, loops.stdout)) await step({ kind: 'loop device', name: dev }, () => run(['losetup', '-d', dev]));
  // 5. Namespaces, then links (taps and veths before their bridges), then the nft tables.
  const ns = await o.exec.run(['ip', 'netns', 'list'], { allowFailure: true });
  for (const n of netnsToPurge(o.prefix, parseNetnsList(ns.stdout))) await step({ kind: 'netns', name: n }, () => run(['ip', 'netns', 'del', n]));
  const links = await o.exec.run(['ip', '-j', '-d', 'link', 'show']);
  for (const l of linksToPurge(o.prefix, JSON.parse(links.stdout || '[]') as never[])) {
    await step(l, async () => {
      const r = await o.exec.run(['ip', 'link', 'del', 'dev', l.name], { allowFailure: true });
      // A veth goes with its peer's namespace: gone by now is fine.
      if (r.code !== 0 && existsSync(`/sys/class/net/${l.name}`)) throw new Error(r.stderr.trim());
    });
  }
  for (const family of ['inet', 'bridge']) {
    const t = await o.exec.run(['nft', '-j', 'list', 'table', family, o.prefix], { allowFailure: true });
    if (t.code !== 0) continue;
    const item = { kind: 'nft table', name: `${family} ${o.prefix}` };
    if (!isNimboTable(t.stdout)) {
      report.failed.push({ item, error: 'it holds chains or sets nimbo does not make; left alone' });
      o.say?.(`kept nft table ${family} ${o.prefix}: it holds chains or sets nimbo does not make`);
      continue;
    }
    await step(item, () => run(['nft', 'delete', 'table', family, o.prefix]));
  }
  // 6. The (now empty) cgroups, deepest first.
  for (const dir of cgroupDirs(o.cgroupRoot ?? '/sys/fs/cgroup', cgroupName(o.prefix)).reverse()) {
    await step({ kind: 'cgroup', name: dir }, async () => rmdirRetry(dir));
  }
  return report;
}

/**
 * Delete the state dir with everything in it (`rm --one-file-system`, so a filesystem mounted inside is
 * never emptied); refused unless it looks like a nimbo state dir and nothing is mounted under it any more.
 */
export async function removeStateDir(exec: HostExec, dir: string): Promise<void> {
  const real = realOr(dir);
  checkStateDirForRemoval(real, process.env.HOME, (f) => existsSync(join(real, f)));
  const left = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).filter((m) => m.mountPoint === real || m.mountPoint.startsWith(`${real}/`));
  if (left.length) throw new Error(`not deleting ${real}: still mounted there: ${left.map((m) => m.mountPoint).join(', ')} (unmount them, then run uninstall --data again)`);
  await exec.run(['rm', '-rf', '--one-file-system', '--', real], { timeoutMs: 600_000 });
}

function realOr(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p.replace(/\/+$/, '');
  }
}

/** Pids in nimbod.pid and daemon.json that really are `nimbo daemon` on this state dir. */
function daemonPids(stateDir: string): number[] {
  const paths = statePaths(stateDir);
  const found = new Set<number>();
  const pidText = readOr(paths.pidFile).trim();
  if (/^[0-9]+$/.test(pidText)) found.add(Number(pidText));
  try {
    const j = JSON.parse(readOr(paths.daemonJson) || '{}') as { pid?: unknown };
    if (typeof j.pid === 'number') found.add(j.pid);
  } catch {
    /* a half-written daemon.json: the pidfile may still say */
  }
  return [...found].filter((pid) => {
    const argv = argvOf(pid);
    if (!argv || !isNimbodArgv(argv)) return false;
    const i = argv.indexOf('--state-dir');
    // Started without --state-dir (default or $NIMBO_STATE_DIR): the pidfile in this dir is its own.
    return i < 0 || realOr(argv[i + 1] ?? '') === stateDir;
  });
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function argvOf(pid: number): string[] | null {
  const text = readOr(`/proc/${pid}/cmdline`);
  return text ? text.split('\0').filter((a, i, all) => a !== '' || i < all.length - 1) : null;
}

/** Every process's argv (kernel threads and vanished processes left out). */
function listProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(e)) continue;
    const argv = argvOf(Number(e));
    if (argv && argv.length) out.push({ pid: Number(e), argv });
  }
  return out;
}

/** True while the process exists, unless it is a zombie whose threads all ended (some inits never reap a daemonized QEMU). */
function alive(pid: number): boolean {
  const stat = readOr(`/proc/${pid}/stat`);
  if (!stat) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  if (state !== 'Z' && state !== 'X') return true;
  try {
    return readdirSync(`/proc/${pid}/task`).length > 1;
  } catch {
    return false;
  }
}

/** Signal a process and wait for it to end; SIGKILL after `ms` when the first signal was gentler. */
async function stopProcess(pid: number, ms: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const send = (s: NodeJS.Signals) => {
    try {
      process.kill(pid, s);
    } catch {
      /* already gone */
    }
  };
  send(signal);
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (!alive(pid)) return;
  if (signal !== 'SIGKILL') {
    send('SIGKILL');
    for (const end = Date.now() + 5000; Date.now() < end; await sleep(50)) if (!alive(pid)) return;
  }
  throw new Error(`pid ${pid} did not exit`);
}

/** The cgroup `name` and every cgroup below it, in each mounted hierarchy (parents before children). */
function cgroupDirs(root: string, name: string): string[] {
  const hierarchies = existsSync(join(root, 'cgroup.controllers')) ? [root] : readdirSync(root).map((c) => join(root, c));
  const seen = new Set<string>();
  const out: string[] = [];
  const walk = (dir: string) => {
    out.push(dir);
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
  };
  for (const h of hierarchies) {
    const dir = join(h, name);
    // cpu and cpuacct are links to cpu,cpuacct: visit each real hierarchy once.
    const real = realOr(dir);
    if (seen.has(real) || !isDir(dir)) continue;
    seen.add(real);
    walk(dir);
  }
  return out;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function procsOf(dir: string): number[] {
  return readOr(join(dir, 'cgroup.procs')).split('\n').filter((l) => /^[0-9]+$/.test(l)).map(Number);
}

/** rmdir a cgroup; the kernel may take a moment to release one whose last process just died. */
async function rmdirRetry(dir: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || i >= 40) throw e;
      await sleep(50);
    }
  }
}

/** Paths of the storage pools in the state dir's database (none when it is missing or unreadable). */
function poolPaths(stateDir: string): string[] {
  try {
    return readValuesReadOnly<{ path?: unknown }>(statePaths(stateDir).db, '/pools/')
      .map((p) => p.path)
      .filter((p): p is string => typeof p === 'string' && p.startsWith('/'))
      .map(realOr);
  } catch {
    return [];
  }
}
