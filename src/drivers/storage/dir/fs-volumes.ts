// Filesystem volumes of a dir pool: plain directories (filesystems/NAME) for containers. The
// size is recorded but not enforced (no quotas on a plain directory), and there are no
// snapshots or linked clones: a full clone copies the tree (sharing blocks with reflinks).
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostExec } from '../../../host/exec.js';
import { invalid } from '../../../core/errors.js';
import { randomHex, treeBytes } from '../fs-util.js';
import { readFsMeta, writeFsMeta, type PoolDirs } from '../pool-layout.js';
import type { VolumeInfo } from '../types.js';

/** Plain-directory filesystem volumes. */
export class DirFsVolumes {
  constructor(
    private readonly exec: HostExec,
    private readonly dirs: PoolDirs,
    private readonly pool: string,
  ) {}

  /** The directory of a volume. */
  path(name: string): string {
    return join(this.dirs.filesystems, name);
  }

  /** Create an empty volume directory (built in .tmp, then renamed into place). */
  async create(name: string, sizeBytes: number): Promise<void> {
    const tmp = join(this.dirs.tmp, randomHex());
    await mkdir(tmp, { mode: 0o755 });
    try {
      await writeFsMeta(this.dirs, name, { sizeBytes });
      await rename(tmp, this.path(name));
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      await rm(join(this.dirs.filesystems, `${name}.json`), { force: true });
      throw e;
    }
  }

  /** Delete a volume: it disappears at once (renamed into .tmp), then its tree is removed. */
  async delete(name: string): Promise<void> {
    const trash = join(this.dirs.tmp, `del-${randomHex()}`);
    await rename(this.path(name), trash);
    await rm(join(this.dirs.filesystems, `${name}.json`), { force: true });
    await rm(trash, { recursive: true, force: true });
  }

  /** Record a new size (grow was checked by the caller). */
  async resize(name: string, sizeBytes: number): Promise<void> {
    await writeFsMeta(this.dirs, name, { sizeBytes });
  }

  /** Rename a volume and its record. */
  async rename(from: string, to: string): Promise<void> {
    await rename(this.path(from), this.path(to));
    await rename(join(this.dirs.filesystems, `${from}.json`), join(this.dirs.filesystems, `${to}.json`)).catch(() => {});
  }

  /** Sizes of a volume (du of the tree). */
  async info(name: string): Promise<VolumeInfo> {
    const meta = await readFsMeta(this.dirs, name);
    return { name, kind: 'filesystem', virtualSizeBytes: meta.sizeBytes, allocatedBytes: await treeBytes(this.exec, this.path(name)), snapshots: 0, linked: false };
  }

  /** A full copy of a volume's tree (cp -a, reflinked where the filesystem can). */
  async cloneFull(from: string, to: string, mode: 'linked' | 'full', fromSnapshot?: string): Promise<void> {
    if (mode === 'linked' || fromSnapshot !== undefined) {
      throw invalid(`pool "${this.pool}" (dir) has no snapshots or linked clones of filesystem volumes: use mode full, or a btrfs pool`);
    }
    const tmp = join(this.dirs.tmp, randomHex());
    await mkdir(tmp, { mode: 0o755 });
    try {
      await this.exec.run(['cp', '-a', '--reflink=auto', '--', `${this.path(from)}/.`, tmp], { timeoutMs: 6 * 3600_000 });
      await writeFsMeta(this.dirs, to, await readFsMeta(this.dirs, from));
      await rename(tmp, this.path(to));
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      await rm(join(this.dirs.filesystems, `${to}.json`), { force: true });
      throw e;
    }
  }
}
