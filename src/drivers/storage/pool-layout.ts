// The on-disk layout shared by the file-based drivers:
//   PATH/nimbo-pool.json          marker: driver, format, reflink (detected once), fs type
//   PATH/volumes/                 block volumes (dir: NAME.qcow2|NAME.raw; btrfs: subvolume NAME/disk.raw)
//   PATH/filesystems/NAME[/]      filesystem volumes, with NAME.json (quota)
//   PATH/snapshots/NAME/          per-volume snapshots (raw reflink copies, btrfs snapshots, or for dir
//                                 filesystem volumes SNAP/ directory copies made with cp -a -x)
//   PATH/bases/                   immutable shared data: frozen qcow2 bases, image bases (+ .json)
//   PATH/.tmp/                    staging: everything is built here, then renamed into place, so a
//                                 failed or interrupted operation never leaves a half-made volume listed
import { lstat, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { conflict, invalid, notFound } from '../../lib/errors.js';
import { ensureDir, exists, makeDirs, randomHex, removeMadeDirs } from './fs-util.js';
import type { PoolSpec, StorageDriverName, VolumeFormat } from './types.js';

/** Contents of PATH/nimbo-pool.json. */
export interface PoolMarker {
  version: 1;
  driver: StorageDriverName;
  format: VolumeFormat;
  reflink: boolean;
  fsType: string;
  createdAt: string;
}

/** Paths of one pool. */
export interface PoolDirs {
  root: string;
  marker: string;
  volumes: string;
  filesystems: string;
  snapshots: string;
  bases: string;
  tmp: string;
}

const MARKER = 'nimbo-pool.json';
const SUBDIRS = ['volumes', 'filesystems', 'snapshots', 'bases', '.tmp'] as const;

/** The paths of a pool rooted at root. */
export function poolDirs(root: string): PoolDirs {
  return {
    root,
    marker: join(root, MARKER),
    volumes: join(root, 'volumes'),
    filesystems: join(root, 'filesystems'),
    snapshots: join(root, 'snapshots'),
    bases: join(root, 'bases'),
    tmp: join(root, '.tmp'),
  };
}

/** Read the pool marker, or null when there is none. */
export async function readMarker(dirs: PoolDirs): Promise<PoolMarker | null> {
  const text = await readFile(dirs.marker, 'utf8').catch(() => null);
  return text === null ? null : (JSON.parse(text) as PoolMarker);
}

/** The marker of an initialised pool; NotFound when initPool never ran. */
export async function requireMarker(spec: PoolSpec, dirs: PoolDirs): Promise<PoolMarker> {
  const m = await readMarker(dirs);
  if (!m) throw notFound(`storage pool "${spec.name}" (no ${MARKER} in ${spec.path}; was it initialised?)`);
  if (m.driver !== spec.driver || m.format !== (spec.options.format ?? 'qcow2')) {
    throw conflict(`${spec.path} holds a ${m.driver} pool of ${m.format} volumes, not ${spec.driver} with ${spec.options.format ?? 'qcow2'}`);
  }
  return m;
}

/** What a driver detects about a new pool's filesystem. */
export interface PoolProbe {
  reflink: boolean;
  fsType: string;
}

/**
 * Create the pool's directories and marker, or adopt an existing pool of the same driver and
 * format. `probe` detects the filesystem once; `check` may refuse it (the directories made here
 * are then removed again).
 */
export async function initPoolDirs(spec: PoolSpec, probe: (dirs: PoolDirs) => Promise<PoolProbe>, check: (p: PoolProbe) => void): Promise<PoolMarker> {
  const dirs = poolDirs(spec.path);
  const format = spec.options.format ?? 'qcow2';
  const old = await readMarker(dirs);
  if (old) {
    if (old.driver !== spec.driver || old.format !== format) {
      throw conflict(`${spec.path} already holds a ${old.driver} pool of ${old.format} volumes`);
    }
    for (const d of SUBDIRS) await ensureDir(join(spec.path, d), 0o711);
    return old;
  }
  const rootExisted = await exists(spec.path);
  if (rootExisted) {
    const entries = await readdir(spec.path).catch(() => {
      throw invalid(`pool path ${spec.path} is not a directory`);
    });
    if (entries.length > 0) throw conflict(`pool path ${spec.path} is not empty; give an empty or new directory`);
  }
  const made = await makeDirs(spec.path, 0o711);
  try {
    for (const d of SUBDIRS) await ensureDir(join(spec.path, d), 0o711);
    const p = await probe(dirs);
    check(p);
    const marker: PoolMarker = { version: 1, driver: spec.driver, format, reflink: p.reflink, fsType: p.fsType, createdAt: new Date().toISOString() };
    const tmp = join(dirs.tmp, `marker-${randomHex()}`);
    await writeFile(tmp, JSON.stringify(marker, null, 2) + '\n', { mode: 0o600 }); // root's, like everything in a pool but image bases
    await rename(tmp, dirs.marker);
    return marker;
  } catch (e) {
    for (const d of SUBDIRS) await rm(join(spec.path, d), { recursive: true, force: true });
    // Parents made for the pool go too: a refused pool leaves nothing behind.
    if (!rootExisted) await removeMadeDirs(spec.path, made);
    throw e;
  }
}

/** Remove the pool's (empty) directories and marker, and the pool directory if nothing else is left. */
export async function removePoolDirs(dirs: PoolDirs): Promise<void> {
  for (const d of SUBDIRS) await rm(join(dirs.root, d), { recursive: true, force: true });
  await rm(dirs.marker, { force: true });
  await rmdir(dirs.root).catch(() => {});
}

/** Quota record of a filesystem volume (filesystems/NAME.json). */
export interface FsMeta {
  sizeBytes: number;
}

/** Read a filesystem volume's record (size 0 when missing). */
export async function readFsMeta(dirs: PoolDirs, name: string): Promise<FsMeta> {
  const text = await readFile(join(dirs.filesystems, `${name}.json`), 'utf8').catch(() => null);
  return text === null ? { sizeBytes: 0 } : (JSON.parse(text) as FsMeta);
}

/** Write a filesystem volume's record atomically. */
export async function writeFsMeta(dirs: PoolDirs, name: string, meta: FsMeta): Promise<void> {
  const tmp = join(dirs.tmp, `meta-${randomHex()}`);
  await writeFile(tmp, JSON.stringify(meta) + '\n', { mode: 0o600 });
  await rename(tmp, join(dirs.filesystems, `${name}.json`));
}

/** Names of entries in dir (empty when dir is missing). */
export async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).sort();
}

/**
 * Remove what an interrupted earlier process left in .tmp (entries older than this process; the
 * daemon is the only writer of a pool, and this process's own staging entries are newer).
 */
export async function sweepTmp(dirs: PoolDirs, remove: (path: string) => Promise<void>): Promise<number> {
  const started = performance.timeOrigin;
  let n = 0;
  for (const f of await listDir(dirs.tmp)) {
    const path = join(dirs.tmp, f);
    const st = await lstat(path).catch(() => null);
    if (!st || st.mtimeMs >= started) continue;
    await remove(path);
    n++;
  }
  return n;
}
