// A container's root as a backup reads it (its merged tree, mounted for the backup if it was not)
// and as a restore writes it (a tree written into a staging dir on the root volume, then swapped
// in as a plain copy-mode root).
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostExec } from '../../../host/exec.js';
import { conflict, notFound } from '../../../lib/errors.js';
import type { FsBackupSession } from '../../../shared/backup-source.js';
import type { InstanceSpec, PowerState } from '../instance-driver.js';
import { ID_SIZE } from './container-info.js';
import { closeToOthers } from './root.js';
import { ensureContainerRoot, installRootTree, isContainerRootMounted, ROOT_LAYOUT, unmountContainerRoot } from './rootfs/container-root.js';

/** What the backup and restore of a root need from the driver. */
export interface FsBackupHost {
  exec: HostExec;
  state(spec: InstanceSpec): Promise<PowerState>;
}

/** Where a restore writes the new tree before it replaces the root (same filesystem: a rename). */
export const RESTORE_STAGING = 'rootfs.restore';

/**
 * Opens the container's merged root for reading: a running (or paused) one as it is, live
 * (crash-consistent: files written meanwhile may be caught mid-change); a stopped one's overlay
 * is mounted if it was not, and finish() unmounts only that mount, and only while it stays stopped.
 */
export async function openRootForBackup(host: FsBackupHost, spec: InstanceSpec, hostId: number, log: (line: string) => void): Promise<FsBackupSession> {
  const dir = spec.root.path;
  const rootfs = join(dir, ROOT_LAYOUT.rootfs);
  const state = await host.state(spec);
  let mountedHere = false;
  if (state === 'stopped' && !(await isContainerRootMounted(dir))) {
    const root = await ensureContainerRoot(host.exec, dir); // NotFound when the volume holds no root
    mountedHere = root.mode !== 'copy';
    if (mountedHere) log(`mounted the root of stopped container ${spec.name} for the backup`);
  }
  if (!(await stat(rootfs).catch(() => null))?.isDirectory()) throw notFound(`root tree of container ${spec.name} (${rootfs})`);
  if (state !== 'stopped') log(`container ${spec.name} is ${state}: its root is read live (crash-consistent: a file changed during the backup is caught at some moment of it)`);
  return {
    root: rootfs,
    idBase: hostId,
    idCount: ID_SIZE,
    consistency: state === 'stopped' ? 'stopped' : 'crash-consistent',
    finish: async () => {
      if (!mountedHere) return;
      mountedHere = false;
      // Started meanwhile: the container runs on this mount now; it stays.
      if ((await host.state(spec)) === 'stopped') await unmountContainerRoot(host.exec, dir);
    },
  };
}

/**
 * Replaces a stopped container's root with the tree `fill` writes into an empty staging dir on
 * the root volume (owners as host ids from idBase). A failed fill removes the staging dir and
 * leaves the old root as it was.
 */
export async function restoreRootTree(
  host: FsBackupHost, spec: InstanceSpec, hostId: number,
  fill: (dir: string, ids: { idBase: number; idCount: number }) => Promise<unknown>, log: (line: string) => void,
): Promise<void> {
  const state = await host.state(spec);
  if (state !== 'stopped') throw conflict(`container ${spec.name} is ${state}: stop it before its root is restored`);
  const dir = spec.root.path;
  await mkdir(dir, { recursive: true });
  closeToOthers(dir, hostId); // the new tree is out of other users' reach while it is written
  const staging = join(dir, RESTORE_STAGING);
  await rm(staging, { recursive: true, force: true }); // a restore that crashed
  await mkdir(staging, { mode: 0o700 });
  try {
    await fill(staging, { idBase: hostId, idCount: ID_SIZE });
    if ((await host.state(spec)) !== 'stopped') throw conflict(`container ${spec.name} was started during the restore of its root`);
    await installRootTree(host.exec, dir, staging, { hostId, size: ID_SIZE });
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    throw e;
  }
  log(`restored the root of container ${spec.name}`);
}
