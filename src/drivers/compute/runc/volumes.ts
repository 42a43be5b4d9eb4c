// Filesystem volumes in containers: bind-mounted read-write at a path the user chooses, their
// files owned by the container's id range (shifted when attached, from the range of the
// container that had them before); hot-plugged into and out of running containers by the mount helper.
import { posix } from 'node:path';
import { conflict, invalid } from '../../../lib/errors.js';
import { ID_SIZE } from './container-info.js';
import { mountHelper, type MountHelper } from './rootfs/mount-helper.js';
import { shiftTree } from './rootfs/container-root.js';
import { CONTAINER_SEED_DIR } from './rootfs/seed-dir.js';

/** Trees a volume may not be mounted on or in: the kernel's and the init's own, and nimbo's seed. */
const RESERVED = ['/proc', '/sys', '/dev', '/run', posix.dirname(CONTAINER_SEED_DIR)];

/** Validate a container mount point (absolute, normalized, not / or a reserved tree, not taken); returns it normalized. Pure. */
export function checkMountPath(path: string, taken: (string | undefined)[]): string {
  if (typeof path !== 'string' || !path.startsWith('/') || path.includes('\0') || path.length > 1024) throw invalid(`mount path "${path}" must be an absolute path`);
  if (path.split('/').some((part) => part === '..' || part === '.')) throw invalid(`mount path "${path}" must not contain . or .. components`);
  const p = posix.normalize(path).replace(/\/+$/, '');
  if (p === '') throw invalid('a volume cannot be mounted at /: it is the container root');
  const bad = RESERVED.find((r) => p === r || p.startsWith(`${r}/`));
  if (bad) throw invalid(`mount path ${p} is inside ${bad}, which the container's init or nimbo owns`);
  if (p === '/tmp') throw invalid('mount path /tmp is a fresh tmpfs in every system container: mount the volume below it or elsewhere');
  if (taken.includes(p)) throw invalid(`another volume is already mounted at ${p}`);
  return p;
}

/** Give a filesystem volume's files to a container's id range (from `fromHostId`'s range when another container had it). */
export async function shiftVolume(dir: string, hostId: number, size = ID_SIZE, fromHostId?: number): Promise<number> {
  const from = fromHostId !== undefined && fromHostId !== hostId ? { hostId: fromHostId, size } : undefined;
  return shiftTree(dir, { hostId, size }, from);
}

/** Hot-plug volume directory `source` into the container whose init is `pid`, at `path` (a bind mount put into its mount namespace). */
export function plugVolume(pid: number, source: string, path: string, hostId: number, helper: MountHelper = mountHelper): Promise<void> {
  return helper.inject(pid, source, path, hostId);
}

/**
 * Take volume directory `source` out of the container (and out of any mount namespace its
 * processes made): not lazily, so nothing reaches it afterwards; Conflict naming the processes
 * that still use it.
 */
export function unplugVolume(source: string, helper: MountHelper = mountHelper): Promise<void> {
  return helper.detach(source);
}

/** Conflict, before any work starts, while processes still hold volume directory `source` (detach would be refused). */
export async function assertVolumeFree(source: string, helper: Pick<MountHelper, 'volumeHolders'> = mountHelper): Promise<void> {
  const busy = await helper.volumeHolders(source);
  if (busy.length) throw conflict(`the volume is in use: ${busy.slice(0, 8).join('; ')}; end those processes (or move them out of it) and detach again`);
}
