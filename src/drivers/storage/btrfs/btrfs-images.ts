// Image bases of a btrfs pool: bases/img-KEY is a read-only subvolume holding disk.raw (the image
// reflinked or converted once); each VM disk made from it is a writable snapshot of it, O(1)
// whatever the size. Snapshots share blocks but do not depend on their origin, so a stale base
// (its image replaced or deleted) can be dropped at any time.
import { rename, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostExec } from '../../../host/exec.js';
import { exists, randomHex, sparseCopy, VOLUME_FILE_MODE } from '../fs-util.js';
import { imageBaseName, imageBaseStale, readImageBase, writeImageBase, type ImageIdentity } from '../image-base.js';
import { inspectSource } from '../inspect.js';
import { listDir, type PoolDirs } from '../pool-layout.js';
import { convertArgv } from '../qemu-img.js';
import type { VolumeFormat } from '../types.js';
import { deleteTree, setReadOnlyArgv, subvolumeCreateArgv } from './btrfs-cmd.js';

/** Name of the data file inside a block volume's subvolume. */
export const DISK_FILE = 'disk.raw';

/** The base subvolume of an image (made once per image identity); returns its path and virtual size. */
export async function ensureImageBase(exec: HostExec, dirs: PoolDirs, image: ImageIdentity, format: VolumeFormat): Promise<{ path: string; virtualSize: number }> {
  const path = join(dirs.bases, imageBaseName(image.key));
  const meta = await readImageBase(dirs, image.key);
  if (meta && (await exists(join(path, DISK_FILE)))) return { path, virtualSize: meta.virtualSize };
  const src = await inspectSource(exec, image.path, format);
  const tmp = join(dirs.tmp, randomHex());
  await exec.run(subvolumeCreateArgv(tmp));
  try {
    const disk = join(tmp, DISK_FILE);
    if (format === 'raw') await sparseCopy(exec, src.path, disk); // a reflink when the image is on this filesystem
    else await exec.run(convertArgv({ src: src.path, srcFormat: 'qcow2', dst: disk, dstFormat: 'raw' }), { timeoutMs: 6 * 3600_000 });
    if (await exists(path)) await deleteTree(exec, path); // a base left without its record
    await rename(tmp, path); // a read-only subvolume cannot be moved: set ro once in place
  } catch (e) {
    await deleteTree(exec, tmp);
    throw e;
  }
  await exec.run(setReadOnlyArgv(path, true));
  await writeImageBase(dirs, image.key, { source: image.path, format: 'raw', virtualSize: src.info.virtualSize, createdAt: new Date().toISOString() });
  return { path, virtualSize: src.info.virtualSize };
}

/** Drop image bases whose image changed or is gone (all of them when `all`); returns how many. */
export async function pruneImageBases(exec: HostExec, dirs: PoolDirs, all = false): Promise<number> {
  let removed = 0;
  for (const f of await listDir(dirs.bases)) {
    if (f.endsWith('.json')) {
      const key = f.slice(4, -5);
      const meta = await readImageBase(dirs, key);
      if (!all && meta && !(await imageBaseStale(key, meta))) continue;
      await deleteTree(exec, join(dirs.bases, imageBaseName(key))).catch(() => {});
      await rm(join(dirs.bases, f), { force: true });
      removed++;
    } else if (all || !(await exists(join(dirs.bases, `${f}.json`)))) {
      await deleteTree(exec, join(dirs.bases, f)); // a base without a record
      removed++;
    }
  }
  return removed;
}

/** Write an empty sparse disk file of sizeBytes. */
export async function createDisk(file: string, sizeBytes: number): Promise<void> {
  await writeFile(file, '', { mode: VOLUME_FILE_MODE });
  await truncate(file, sizeBytes);
}
