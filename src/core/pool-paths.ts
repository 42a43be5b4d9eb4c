import { lstat, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { conflict, invalid } from '../lib/errors.js';

// Storage pool paths are checked as paths, before anything is created: resolved through symlinks
// (resolvePoolPath), then refused when they would overlap another pool or the daemon's state, or sit on
// a kernel pseudo-filesystem (checkPoolPath, pure). The resolved path is what the pool record keeps, so a
// symlink changed later cannot move a pool onto another one.

/** Trees that hold kernel or runtime state, never storage (checked on the resolved path). */
export const PSEUDO_PREFIXES = ['/proc', '/sys', '/dev', '/run'] as const;

/** Filesystem types (from /proc/self/mountinfo) that are views of the kernel, not storage. */
export const PSEUDO_FS_TYPES: ReadonlySet<string> = new Set([
  'proc', 'sysfs', 'devtmpfs', 'devpts', 'cgroup', 'cgroup2', 'debugfs', 'tracefs', 'securityfs', 'pstore', 'bpf',
  'configfs', 'fusectl', 'efivarfs', 'mqueue', 'binfmt_misc', 'autofs', 'hugetlbfs', 'nsfs', 'selinuxfs', 'rpc_pipefs',
]);

/** Most components resolvePoolPath walks up before giving up (PATH_MAX / 2). */
const MAX_DEPTH = 2048;

/** True when path is dir or inside it (both absolute and normalized). */
export function within(path: string, dir: string): boolean {
  return path === dir || dir === '/' || path.startsWith(`${dir}/`);
}

/** One mount from /proc/self/mountinfo. */
export interface MountEntry {
  mountPoint: string;
  fsType: string;
}

/** Parse /proc/self/mountinfo (proc(5)): mount point is field 5 (octal escapes), the type follows " - ". */
export function parseMountinfo(text: string): MountEntry[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const [head, tail] = line.split(' - ');
    const mp = head?.split(' ')[4];
    const fsType = tail?.split(' ')[0];
    if (mp && fsType) out.push({ mountPoint: unescape(mp), fsType });
  }
  return out;
}

/** The type of the filesystem that holds path: the longest mount point above it (the last one mounted wins). */
export function fsTypeAt(mounts: MountEntry[], path: string): string | null {
  let best: MountEntry | null = null;
  for (const m of mounts) {
    if (within(path, m.mountPoint) && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best?.fsType ?? null;
}

/** What a new pool's path is checked against; every path is absolute and resolved. */
export interface PoolPathContext {
  /** The new pool's name. */
  name: string;
  /** The candidate path, resolved (resolvePoolPath). */
  path: string;
  /** Type of the filesystem holding it; null when unknown (the prefix check still applies). */
  fsType: string | null;
  /** The daemon's state directory. */
  stateDir: string;
  /** Where a pool of this name goes when no path is given (STATE/pools/NAME): the one place allowed inside the state dir. */
  defaultPath: string;
  /** Existing pools. */
  pools: { name: string; path: string }[];
}

/** Throw InvalidArgument (pseudo-filesystem) or Conflict (overlap with a pool or the state dir), one sentence each. */
export function checkPoolPath(c: PoolPathContext): void {
  const p = c.path;
  if (p === '/') throw invalid('pool path must not be the root directory');
  for (const pre of PSEUDO_PREFIXES) {
    if (within(p, pre)) throw invalid(`pool path ${p} is under ${pre}, which holds kernel or runtime state, not storage: choose a directory on a disk filesystem`);
  }
  if (c.fsType !== null && PSEUDO_FS_TYPES.has(c.fsType)) {
    throw invalid(`pool path ${p} is on a ${c.fsType} pseudo-filesystem, not storage: choose a directory on a disk filesystem`);
  }
  for (const o of c.pools) {
    if (p === o.path) throw conflict(`pool path ${p} is already used by pool ${o.name}`);
    if (within(p, o.path)) throw conflict(`pool path ${p} is inside pool ${o.name} (${o.path}); pools must not nest`);
    if (within(o.path, p)) throw conflict(`pool path ${p} contains pool ${o.name} (${o.path}); pools must not nest`);
  }
  if (p !== c.defaultPath && within(p, c.stateDir)) {
    throw conflict(`pool path ${p} is inside the daemon's state directory ${c.stateDir}: leave out the path to keep the pool there, or choose a directory outside it`);
  }
  if (within(c.stateDir, p)) throw conflict(`pool path ${p} contains the daemon's state directory ${c.stateDir}`);
}

/**
 * The absolute path with every existing component resolved through symlinks (realpath of the deepest existing
 * ancestor, then the missing rest). A missing component that is a dangling symlink, or one under a file, is refused.
 */
export async function resolvePoolPath(path: string): Promise<string> {
  if (typeof path !== 'string' || !isAbsolute(path)) throw invalid(`pool path ${JSON.stringify(path)} must be an absolute directory`);
  if (/[\0\n]/.test(path)) throw invalid('pool path contains a NUL or newline');
  const rest: string[] = [];
  let cur = resolve(path);
  for (let i = 0; i < MAX_DEPTH; i++) {
    const real = await realpath(cur).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' && cur !== '/') return null;
      if (e.code === 'ENOTDIR') throw invalid(`pool path ${path} is not a directory (a part of it is a file)`);
      if (e.code === 'ELOOP') throw invalid(`pool path ${path} has a loop of symbolic links`);
      throw e;
    });
    if (real === null) {
      rest.unshift(basename(cur));
      cur = dirname(cur);
      continue;
    }
    // realpath said ENOENT for the next component, yet something is there: a symlink to nothing.
    if (rest.length > 0 && (await lstat(join(real, rest[0]!)).catch(() => null))) {
      throw invalid(`pool path ${path} goes through ${join(real, rest[0]!)}, a symbolic link to nothing`);
    }
    if (rest.length === 0 && !(await stat(real)).isDirectory()) throw invalid(`pool path ${path} is not a directory`);
    return join(real, ...rest);
  }
  throw invalid(`pool path ${path} is nested deeper than ${MAX_DEPTH} levels`);
}

/** The mounts of this process, or none when /proc/self/mountinfo cannot be read. */
export async function readMounts(): Promise<MountEntry[]> {
  return parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8').catch(() => ''));
}
