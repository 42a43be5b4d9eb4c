// btrfs commands as argv data, and the subvolume helpers the btrfs driver builds on.
// https://btrfs.readthedocs.io/en/latest/btrfs-subvolume.html, .../btrfs-qgroup.html
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostExec } from '../../../host/exec.js';

/** The inode number of every btrfs subvolume's root directory (BTRFS_FIRST_FREE_OBJECTID). */
export const SUBVOLUME_ROOT_INO = 256;

/** btrfs subvolume create PATH. */
export const subvolumeCreateArgv = (path: string) => ['btrfs', '-q', 'subvolume', 'create', path];
/** btrfs subvolume snapshot [-r] SRC DST (O(1): shares the whole tree). */
export const snapshotArgv = (src: string, dst: string, readOnly: boolean) =>
  ['btrfs', '-q', 'subvolume', 'snapshot', ...(readOnly ? ['-r'] : []), src, dst];
/** btrfs subvolume delete PATH. */
export const subvolumeDeleteArgv = (path: string) => ['btrfs', '-q', 'subvolume', 'delete', path];
/** Make a subvolume read-only (or writable again). */
export const setReadOnlyArgv = (path: string, ro: boolean) => ['btrfs', 'property', 'set', '-ts', path, 'ro', String(ro)];
/** Enable quota accounting on the filesystem holding path (a no-op when on). */
export const quotaEnableArgv = (path: string) => ['btrfs', 'quota', 'enable', path];
/** Limit the referenced bytes of a subvolume's qgroup (0 = no limit). */
export const qgroupLimitArgv = (path: string, bytes: number) => ['btrfs', 'qgroup', 'limit', bytes === 0 ? 'none' : String(bytes), path];
/** Drop qgroups of deleted subvolumes. */
export const clearStaleArgv = (path: string) => ['btrfs', 'qgroup', 'clear-stale', path];

/** Whether path is the root of a btrfs subvolume. */
export async function isSubvolume(path: string): Promise<boolean> {
  const st = await lstat(path).catch(() => null);
  return !!st && st.isDirectory() && st.ino === SUBVOLUME_ROOT_INO;
}

/** Subvolumes nested anywhere below dir (not dir itself), deepest first. */
export async function nestedSubvolumes(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (!e.isDirectory()) continue;
      const p = join(d, e.name);
      await walk(p);
      if (await isSubvolume(p)) found.push(p);
    }
  };
  await walk(dir);
  return found;
}

/**
 * Delete a subvolume, including subvolumes a container created inside it (which
 * `btrfs subvolume delete` refuses); a plain directory is removed with rm. Read-only nested
 * snapshots are made writable first so their directory entries can go.
 */
export async function deleteTree(exec: HostExec, path: string): Promise<void> {
  if (!(await isSubvolume(path))) {
    for (const sub of await nestedSubvolumes(path)) await deleteTree(exec, sub);
    await rm(path, { recursive: true, force: true });
    return;
  }
  const first = await exec.run(subvolumeDeleteArgv(path), { allowFailure: true });
  if (first.code === 0) return;
  for (const sub of await nestedSubvolumes(path)) {
    await exec.run(setReadOnlyArgv(sub, false), { allowFailure: true });
    await exec.run(subvolumeDeleteArgv(sub));
  }
  await exec.run(subvolumeDeleteArgv(path));
}
