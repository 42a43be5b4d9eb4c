// A system container's root filesystem: the image tree (read-only, shared by every container
// of the image) under an overlayfs whose upper layer lives in the container's filesystem
// volume, every file owned by the container's host id range.
//
// runc 1.1 has no idmapped mounts, so a user-namespaced container needs its files really
// owned by hostId+uid. Three ways, best first (`mode: 'auto'` takes the first that works):
// - idmap: the overlay's lower layer is an idmapped mount of the image tree (mount-helper.ts;
//   Linux ≥ 5.19 and a filesystem that allows idmapped mounts: ext4, XFS, btrfs, tmpfs). No
//   file is touched: a root costs two mounts whatever the image's size (the tiny image: ~0.1 s,
//   mostly starting Python; debian-12 the same). Only the upper layer holds real owners.
// - overlay: the shift is done once, at creation, through the merged mount with overlayfs
//   `metacopy=on`: a chown/chmod copies up only the inode (metadata, an xattr pointing at the
//   lower data), never file data, so a root costs an inode (plus xattrs) per entry of the
//   image. Measured here: the tiny image (325 entries) in ~0.1-0.3 s with a 292 KiB upper
//   dir; 54,500 entries of /usr/share in ~5 s. On ext4 with 256-byte inodes the two overlay
//   xattrs do not fit in the inode, so each copied-up file costs one 4 KiB xattr block.
// - copy: where the overlay mount fails (old kernel, upper fs without trusted xattrs), a full
//   copy with `cp --reflink=auto` (O(extents) on XFS/btrfs, a real copy elsewhere), shifted in
//   place.
//
// What a shift does not carry: security.capability xattrs (the tree has none: extraction
// drops xattrs; a chown would drop them anyway) and POSIX ACLs. Setuid/setgid bits, which
// chown clears, are restored.
//
// Layout in workDir (the container's filesystem volume directory):
//   upper/ work/      overlay upper and work dirs (same filesystem)
//   lower/            idmap mode: the idmapped mount of the image tree
//   rootfs/           the merged mount (or, in copy mode, the plain shifted copy)
//   nimbo-root.json   how to re-create the mounts (ensureContainerRoot) and whether the shift finished
import { lchown, mkdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { HostExec } from '../../../../host/exec.js';
import { conflict, invalid, notFound } from '../../../../lib/errors.js';
import { CONTAINER_SEED_DIR } from './seed-dir.js';
import { MountHelper, mountHelper } from './mount-helper.js';
import { isMountPoint, readMounts } from './mounts.js';

export { parseMountinfo, readMounts, type MountInfo } from './mounts.js';

import type { IdShift } from './id-shift.js';

export type { IdShift } from './id-shift.js';

/**
 * idmap: overlayfs over an idmapped mount of the image tree (no file touched); overlay:
 * overlayfs with metacopy over the tree itself, owners shifted through it; copy: a full
 * (reflink when possible) copy, shifted in place.
 */
export type ContainerRootMode = 'idmap' | 'overlay' | 'copy';

/** Options of makeContainerRoot. */
export interface ContainerRootOptions {
  /** auto (default): idmap, else overlay when the idmapped mount fails, else copy when the overlay mount fails. */
  mode?: 'auto' | ContainerRootMode;
}

/** A ready container root. */
export interface ContainerRoot {
  /** The directory to give runc as root.path (owned by hostId, mounted in overlay mode). */
  rootfs: string;
  mode: ContainerRootMode;
  /** Entries whose owner changed in this call (0 when it only re-mounted). */
  shifted: number;
  /** Milliseconds this call took. */
  ms: number;
  /** Why `auto` fell back to copy mode (the overlay mount's error); log it. */
  fallbackReason?: string;
}

/** What workDir/nimbo-root.json records. */
export interface ContainerRootState {
  version: 1;
  lowerDir: string;
  hostId: number;
  size: number;
  mode: ContainerRootMode;
  /** True once every entry of rootfs is in the container's range (the shift is idempotent). */
  shifted: boolean;
  /** A copied root not yet re-shifted: the id range its files are owned by (see retargetContainerRoot). */
  from?: IdShift;
}

/** File names inside workDir. */
export const ROOT_LAYOUT = {
  upper: 'upper',
  work: 'work',
  /** idmap mode: the idmapped mount of the image tree (overlay's lower layer). */
  lower: 'lower',
  rootfs: 'rootfs',
  state: 'nimbo-root.json',
} as const;

const MAX_ID = 0xffffffff;

/** Throws InvalidArgument unless the range is usable: [hostId, hostId+size) must not overlap [0, size). */
export function checkShift(s: IdShift): void {
  if (!Number.isInteger(s.size) || s.size < 65536 || !Number.isInteger(s.hostId) || s.hostId < s.size ||
      s.hostId + s.size > MAX_ID) {
    throw invalid(`invalid id range ${s.hostId}+${s.size}: need size ≥ 65536 and size ≤ hostId ≤ ${MAX_ID} - size`);
  }
}

/** Throws InvalidArgument when two different id ranges overlap (a re-shift between them would be ambiguous). Pure. */
export function checkReshift(from: IdShift, to: IdShift): void {
  checkShift(from);
  checkShift(to);
  const same = from.hostId === to.hostId && from.size === to.size;
  if (!same && from.hostId < to.hostId + to.size && to.hostId < from.hostId + from.size) {
    throw invalid(`id ranges ${from.hostId}+${from.size} and ${to.hostId}+${to.size} overlap`);
  }
}

/**
 * The host id a file owner id gets: ids already in [hostId, hostId+size) stay (so a shift can
 * be re-run after a crash), ids in the source range `from` (a root copied from another
 * container) move to the same offset in this range, ids below size move up by hostId, anything
 * else becomes the container's nobody (65534). Pure.
 */
export function shiftId(id: number, s: IdShift, from?: IdShift): number {
  if (id >= s.hostId && id < s.hostId + s.size) return id;
  if (from && id >= from.hostId && id < from.hostId + from.size) {
    const rel = id - from.hostId;
    return rel < s.size ? s.hostId + rel : s.hostId + 65534;
  }
  if (id < s.size) return s.hostId + id;
  return s.hostId + 65534;
}

/** Options of the overlay mount; paths with `,` `:` `\` or whitespace are refused. Pure. */
export function overlayMountOptions(lower: string, upper: string, work: string): string {
  for (const p of [lower, upper, work]) {
    if (/[,:\\\s]/.test(p)) throw invalid(`path ${JSON.stringify(p)} cannot be an overlay layer (no , : \\ or spaces)`);
  }
  // metacopy=on needs redirect_dir=on; index=off keeps the upper usable if the tree is re-extracted.
  return `lowerdir=${lower},upperdir=${upper},workdir=${work},metacopy=on,redirect_dir=on,index=off`;
}

const exists = async (p: string) => (await stat(p).catch(() => null)) !== null;

async function readState(workDir: string): Promise<ContainerRootState | undefined> {
  const text = await readFile(join(workDir, ROOT_LAYOUT.state), 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (text === undefined) return undefined;
  const s = JSON.parse(text) as ContainerRootState;
  if (s.version !== 1 || typeof s.lowerDir !== 'string' || !['idmap', 'overlay', 'copy'].includes(s.mode) ||
      (s.from !== undefined && (typeof s.from.hostId !== 'number' || typeof s.from.size !== 'number'))) {
    throw invalid(`malformed ${join(workDir, ROOT_LAYOUT.state)}`);
  }
  return s;
}

async function writeState(workDir: string, s: ContainerRootState): Promise<void> {
  const p = join(workDir, ROOT_LAYOUT.state);
  await writeFile(`${p}.tmp`, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
  await rename(`${p}.tmp`, p);
}

async function mountOverlay(exec: HostExec, workDir: string, lowerDir: string): Promise<void> {
  const rootfs = join(workDir, ROOT_LAYOUT.rootfs);
  for (const d of [ROOT_LAYOUT.upper, ROOT_LAYOUT.work, ROOT_LAYOUT.rootfs]) {
    await mkdir(join(workDir, d), { recursive: true, mode: 0o755 });
  }
  if (await isMountPoint(rootfs)) return;
  const opts = overlayMountOptions(lowerDir, join(workDir, ROOT_LAYOUT.upper), join(workDir, ROOT_LAYOUT.work));
  await exec.run(['mount', '-t', 'overlay', 'nimbo-rootfs', '-o', opts, rootfs]);
}

/** Copy mode: a full copy of the tree (reflinked where the filesystem can), renamed into place when complete. */
async function copyTree(exec: HostExec, workDir: string, lowerDir: string): Promise<void> {
  const rootfs = join(workDir, ROOT_LAYOUT.rootfs);
  if (await exists(rootfs)) return;
  const partial = `${rootfs}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { mode: 0o755 });
  await exec.run(['cp', '-dR', '--preserve=mode,ownership,timestamps,links', '--reflink=auto', `${lowerDir}/.`, partial],
    { timeoutMs: 60 * 60_000 });
  await rename(partial, rootfs);
}

/**
 * Moves every owner under root (or under `rel` resolved inside root) into the range, by file
 * descriptor in the mount helper: a symbolic link is never followed (a container may have
 * planted one while it ran), no other mount is entered, setuid/setgid bits chown clears are
 * restored. Returns how many entries changed. The caller makes sure no container can write the
 * tree meanwhile.
 */
export async function shiftTree(root: string, shift: IdShift, from?: IdShift, rel = '.'): Promise<number> {
  checkShift(shift);
  if (from) checkReshift(from, shift);
  // A helper process of its own: a long walk does not hold up other containers' mounts.
  const walker = new MountHelper();
  try {
    return await walker.shiftTree(root, rel, shift, from);
  } finally {
    walker.close();
  }
}

/** idmap mode: the image tree idmapped into the container's range at workDir/lower (kept if already there). */
async function mountIdmappedLower(workDir: string, state: ContainerRootState): Promise<string> {
  const lower = join(workDir, ROOT_LAYOUT.lower);
  await mkdir(lower, { recursive: true, mode: 0o755 });
  if (!(await isMountPoint(lower))) await mountHelper.idmap(state.lowerDir, lower, { hostId: state.hostId, size: state.size });
  return lower;
}

/** Finishes whatever the state says is missing: mount or copy, shift, the seed mount point. */
async function bringUp(exec: HostExec, workDir: string, state: ContainerRootState, t0: number): Promise<ContainerRoot> {
  const rootfs = join(workDir, ROOT_LAYOUT.rootfs);
  const shift = { hostId: state.hostId, size: state.size };
  let shifted = 0;
  if (state.mode === 'idmap') {
    // Only the upper layer holds real owners (the container's changes): a copied root moves them
    // before the overlay is mounted; the image part follows the idmapped lower layer by itself.
    if (!state.shifted && state.from) shifted = await shiftTree(join(workDir, ROOT_LAYOUT.upper), shift, state.from);
    await mountOverlay(exec, workDir, await mountIdmappedLower(workDir, state));
  } else if (state.mode === 'overlay') await mountOverlay(exec, workDir, state.lowerDir);
  else await copyTree(exec, workDir, state.lowerDir);
  if (!state.shifted) {
    if (state.mode !== 'idmap') shifted = await shiftTree(rootfs, shift, state.from);
    else await lchown(rootfs, shift.hostId, shift.hostId); // the overlay's root is the upper dir's, made by host root
    // Where the lead bind-mounts the seed; runc would otherwise have to create it. Resolved inside
    // the root: a copied container may have made /.nimbo a symlink to a host path.
    await mountHelper.mkdirsInRoot(rootfs, CONTAINER_SEED_DIR, shift.hostId);
    const { from: _done, ...rest } = state;
    await writeState(workDir, { ...rest, shifted: true });
  }
  return { rootfs, mode: state.mode, shifted, ms: Date.now() - t0 };
}

/**
 * Makes (or, when workDir already holds the same root, just brings up) a container root in
 * workDir from the image tree lowerDir, owned by the container's id range. Idempotent;
 * Conflict when workDir holds a root of another tree or range. Root only.
 */
export async function makeContainerRoot(
  exec: HostExec, lowerDir: string, workDir: string, shift: IdShift, opts: ContainerRootOptions = {},
): Promise<ContainerRoot> {
  const t0 = Date.now();
  checkShift(shift);
  const lower = resolve(lowerDir);
  const dir = resolve(workDir);
  if (!(await stat(lower).catch(() => null))?.isDirectory()) throw notFound(`image tree ${lower}`);
  await mkdir(dir, { recursive: true });
  const old = await readState(dir);
  if (old) {
    if (old.lowerDir !== lower || old.hostId !== shift.hostId || old.size !== shift.size) {
      throw conflict(`${dir} already holds a container root of ${old.lowerDir} for ids ${old.hostId}+${old.size}`);
    }
    return bringUp(exec, dir, old, t0);
  }
  const want = opts.mode ?? 'auto';
  let mode: ContainerRootMode = want === 'auto' ? 'idmap' : want;
  const reasons: string[] = [];
  const clear = async () => {
    await unmountContainerRoot(exec, dir);
    for (const d of [ROOT_LAYOUT.upper, ROOT_LAYOUT.work, ROOT_LAYOUT.rootfs, ROOT_LAYOUT.lower]) await rm(join(dir, d), { recursive: true, force: true });
  };
  // Try each mode the options allow, best first; a failed one leaves nothing behind.
  for (const m of want === 'auto' ? (['idmap', 'overlay'] as const) : want === 'copy' ? [] : [want]) {
    try {
      if (m === 'idmap') await mountOverlay(exec, dir, await mountIdmappedLower(dir, { version: 1, lowerDir: lower, hostId: shift.hostId, size: shift.size, mode: m, shifted: false }));
      else await mountOverlay(exec, dir, lower);
      mode = m;
      break;
    } catch (e) {
      await clear();
      if (want !== 'auto') throw e;
      reasons.push(`${m}: ${e instanceof Error ? e.message : String(e)}`);
      mode = m === 'idmap' ? 'overlay' : 'copy';
    }
  }
  const fallbackReason = reasons.length ? reasons.join('; ') : undefined;
  const state: ContainerRootState = { version: 1, lowerDir: lower, hostId: shift.hostId, size: shift.size, mode, shifted: false };
  await writeState(dir, state);
  const root = await bringUp(exec, dir, state, t0);
  return fallbackReason === undefined ? root : { ...root, fallbackReason };
}

/**
 * Brings workDir's container root up again after a host reboot or daemon restart: mounts the
 * overlay if it is not mounted, finishes an interrupted copy or shift. Idempotent, cheap when
 * all is in place. NotFound when workDir holds no container root.
 */
export async function ensureContainerRoot(exec: HostExec, workDir: string): Promise<ContainerRoot> {
  const t0 = Date.now();
  const dir = resolve(workDir);
  const state = await readState(dir);
  if (!state) throw notFound(`container root in ${dir}`);
  return bringUp(exec, dir, state, t0);
}

/**
 * Points a copied container root (workDir holds a copy of another container's volume, its
 * rootfs unmounted) at a new id range: the state records the range its files are owned by now
 * and shifted=false, so the next ensureContainerRoot mounts it and moves every owner from the
 * old range to the same offset in the new one. Idempotent until that shift ran. NotFound
 * without a root, Conflict while its rootfs is mounted, InvalidArgument for overlapping ranges.
 */
export async function retargetContainerRoot(workDir: string, shift: IdShift): Promise<ContainerRootState> {
  const dir = resolve(workDir);
  const old = await readState(dir);
  if (!old) throw notFound(`container root in ${dir}`);
  for (const d of [ROOT_LAYOUT.rootfs, ROOT_LAYOUT.lower]) {
    if (await isMountPoint(join(dir, d))) throw conflict(`container root ${dir} is mounted: unmount it before re-targeting its ids`);
  }
  const from = old.from ?? { hostId: old.hostId, size: old.size };
  checkReshift(from, shift);
  const state: ContainerRootState = { ...old, hostId: shift.hostId, size: shift.size, shifted: false, from };
  await writeState(dir, state);
  return state;
}

/** Whether workDir's rootfs is mounted now (always false in copy mode). */
export async function isContainerRootMounted(workDir: string): Promise<boolean> {
  return isMountPoint(join(resolve(workDir), ROOT_LAYOUT.rootfs));
}

/**
 * Unmounts workDir's rootfs (every stacked mount of it) and, in idmap mode, the idmapped
 * tree under it. Idempotent; Conflict while it is busy (a container still runs on it).
 */
export async function unmountContainerRoot(exec: HostExec, workDir: string): Promise<void> {
  // The overlay first, then (idmap mode) the idmapped image tree under it.
  for (const mp of [ROOT_LAYOUT.rootfs, ROOT_LAYOUT.lower].map((d) => join(resolve(workDir), d))) {
    for (let i = 0; i < 16 && (await isMountPoint(mp)); i++) {
      const r = await exec.run(['umount', mp], { allowFailure: true });
      if (r.code !== 0) throw conflict(`cannot unmount container root ${mp}: ${r.stderr.trim()}`);
    }
  }
}

/**
 * Unmounts and deletes the container root's files in workDir (upper, work, rootfs, state);
 * workDir itself and other files in it stay. Idempotent. Conflict while anything is still
 * mounted at or below workDir (nothing is deleted then).
 */
export async function removeContainerRoot(exec: HostExec, workDir: string): Promise<void> {
  const dir = resolve(workDir);
  if (!(await exists(dir))) return;
  await unmountContainerRoot(exec, dir);
  const real = await realpath(dir);
  const busy = (await readMounts()).filter((m) => m.mountPoint === real || m.mountPoint.startsWith(`${real}/`));
  if (busy.length) throw conflict(`still mounted under ${real}: ${busy.map((m) => m.mountPoint).join(', ')}`);
  for (const d of [ROOT_LAYOUT.rootfs, `${ROOT_LAYOUT.rootfs}.partial`, ROOT_LAYOUT.upper, ROOT_LAYOUT.work, ROOT_LAYOUT.lower]) {
    await rm(join(dir, d), { recursive: true, force: true });
  }
  await rm(join(dir, ROOT_LAYOUT.state), { force: true });
  await rm(join(dir, `${ROOT_LAYOUT.state}.tmp`), { force: true });
}

/**
 * Makes `tree` (a whole root, every owner already in the range, on workDir's filesystem) workDir's
 * container root, in copy mode: the old root (mounts, upper, rootfs, state) is removed, the tree
 * renamed into place. No image is needed afterwards: the state names the rootfs itself as its
 * source, so nothing is ever copied over it. Conflict while the old root is busy (the tree stays).
 */
export async function installRootTree(exec: HostExec, workDir: string, tree: string, shift: IdShift): Promise<ContainerRoot> {
  const t0 = Date.now();
  checkShift(shift);
  const dir = resolve(workDir);
  await removeContainerRoot(exec, dir);
  const rootfs = join(dir, ROOT_LAYOUT.rootfs);
  await rename(tree, rootfs);
  await writeState(dir, { version: 1, lowerDir: rootfs, hostId: shift.hostId, size: shift.size, mode: 'copy', shifted: false });
  // Owners are in the range already (the extraction shifted them): only the seed's mount point is missing.
  await mountHelper.mkdirsInRoot(rootfs, CONTAINER_SEED_DIR, shift.hostId);
  await writeState(dir, { version: 1, lowerDir: rootfs, hostId: shift.hostId, size: shift.size, mode: 'copy', shifted: true });
  return { rootfs, mode: 'copy', shifted: 0, ms: Date.now() - t0 };
}
