// A container's root on the host: the volume directory holding its overlay (closed to other
// users), the seed dir, the console FIFO, and the re-shift of a copied root.
import { chmodSync, chownSync, lstatSync, rmSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostExec } from '../../../host/exec.js';
import { invalid } from '../../../lib/errors.js';
import { ensureContainerRoot, makeContainerRoot, removeContainerRoot, retargetContainerRoot, unmountContainerRoot, type ContainerRoot } from './rootfs/container-root.js';
import { renderSeedDir } from './rootfs/seed-dir.js';
import { ID_SIZE } from './container-info.js';
import { wholeDiskOf } from './runc-support.js';

/**
 * The dir holding a container's root (lower/upper/work/rootfs): root's, traversable by the container's
 * root (runc init resolves the rootfs path as it) and by no other user, so its files are not reachable by path.
 */
export function closeToOthers(dir: string, hostId: number): void {
  chownSync(dir, 0, hostId);
  chmodSync(dir, 0o710);
}

/**
 * Make (if absent) the FIFO a system container's services write their console lines to, owned by its
 * root; the exit shim reads it into the bounded log (a plain file there could grow without end).
 */
export async function consoleFifo(exec: HostExec, path: string, hostId: number): Promise<void> {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st && !st.isFIFO()) rmSync(path, { force: true });
  if (!st?.isFIFO()) await exec.run(['mkfifo', '-m', '0600', path]);
  chownSync(path, hostId, hostId);
}

/** Make a container's root in volume dir `dir`: an overlay over image tree `lower`, ids shifted into the range at hostId. */
export async function makeRoot(exec: HostExec, lower: string, dir: string, hostId: number): Promise<ContainerRoot> {
  closeToOthers(dir, hostId);
  return makeContainerRoot(exec, lower, dir, { hostId, size: ID_SIZE });
}

/** Bring a container's root up (mounted, shifted) before a start; also closes its dir (a copy, or a root made by an older version: 0711). */
export async function readyRoot(exec: HostExec, dir: string, hostId: number): Promise<ContainerRoot> {
  closeToOthers(dir, hostId);
  return ensureContainerRoot(exec, dir);
}

/** Point a freshly cloned root (volume dir `dir`) at the copy's id range and mount it: its files move to that range. */
export async function retargetRoot(exec: HostExec, dir: string, hostId: number): Promise<ContainerRoot> {
  await chmod(dir, 0o711);
  await retargetContainerRoot(dir, { hostId, size: ID_SIZE });
  return ensureContainerRoot(exec, dir);
}

/** Unmount a container's root (undo of a clone; the volume itself is the caller's). */
export function unmountRoot(exec: HostExec, dir: string): Promise<void> {
  return unmountContainerRoot(exec, dir);
}

/** Unmount and delete a container's root files in volume dir `dir` (the volume stays). */
export function removeRoot(exec: HostExec, dir: string): Promise<void> {
  return removeContainerRoot(exec, dir);
}

/** The seed dir of a container (same files as a VM's cidata), in its instance dir. */
export const seedDirOf = (instanceDir: string) => join(instanceDir, 'seed');

/** Write the seed where the container's init reads it, owned by its root. */
export function writeSeed(instanceDir: string, hostId: number, files: Record<string, string>): Promise<void> {
  return renderSeedDir(files, seedDirOf(instanceDir), { uid: hostId, gid: hostId });
}

/** The whole disk the root volume's filesystem lives on (where its block I/O throttles apply). */
export async function rootDisk(exec: HostExec, rootDir: string, name: string, pool: string): Promise<{ major: number; minor: number }> {
  const disk = await wholeDiskOf(exec, rootDir);
  if (!disk) throw invalid(`disk limits of ${name}: pool ${pool} is not on a block device`);
  return disk;
}
