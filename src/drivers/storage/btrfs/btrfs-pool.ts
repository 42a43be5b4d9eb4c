// Internals of the btrfs driver (paths, checks, quota, staging); the driver's methods are in btrfs-driver.ts.
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { conflict, invalid, notFound } from '../../../lib/errors.js';
import { exists, makePrivate, randomHex } from '../fs-util.js';
import { listDir, poolDirs, requireMarker, type PoolDirs } from '../pool-layout.js';
import { assertNotInUse, explainFailure } from '../storage-errors.js';
import type { PoolSpec, StorageDeps, VolumeKind } from '../types.js';
import { poolSpec, snapshotName, volumeName } from '../validate.js';
import { deleteTree, qgroupLimitArgv, quotaEnableArgv, snapshotArgv, subvolumeCreateArgv } from './btrfs-cmd.js';
import { DISK_FILE } from './btrfs-images.js';
import { assertNoMounts } from '../dir/fs-volumes.js';

/** Paths, checks and staging shared by the btrfs driver's operations. */
export abstract class BtrfsPoolBase {
  readonly spec: PoolSpec;
  protected readonly dirs: PoolDirs;
  protected quotasOn = false;
  protected opened = false;

  constructor(spec: PoolSpec, protected readonly deps: StorageDeps) {
    if (spec.options?.format !== undefined && spec.options.format !== 'raw') throw invalid('a btrfs pool stores raw volumes; drop the format option');
    this.spec = poolSpec({ ...spec, options: { ...spec.options, format: 'raw' } });
    this.dirs = poolDirs(this.spec.path);
  }

  protected get exec() {
    return this.deps.exec;
  }
  protected key = (name: string) => `${this.dirs.root}\0${name}`;
  protected blockPath = (name: string) => join(this.dirs.volumes, name);
  protected fsPath = (name: string) => join(this.dirs.filesystems, name);
  protected snapDir = (name: string) => join(this.dirs.snapshots, name);
  protected disk = (name: string) => join(this.blockPath(name), DISK_FILE);

  protected async open(): Promise<void> {
    if (!this.opened) await requireMarker(this.spec, this.dirs);
    this.opened = true;
  }

  protected async explained<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw explainFailure(e, this.spec.name, action);
    }
  }

  protected async kindOf(name: string): Promise<VolumeKind | null> {
    await this.open();
    if (await exists(this.blockPath(volumeName(name)))) return 'block';
    if (await exists(this.fsPath(name))) return 'filesystem';
    return null;
  }

  protected async requireKind(name: string): Promise<VolumeKind> {
    const kind = await this.kindOf(name);
    if (!kind) throw notFound(`volume "${name}" in pool "${this.spec.name}"`);
    return kind;
  }

  protected async requireFree(name: string): Promise<void> {
    if (await this.kindOf(name)) throw conflict(`volume "${name}" already exists in pool "${this.spec.name}"`);
  }

  protected volPath(name: string, kind: VolumeKind): string {
    return kind === 'block' ? this.blockPath(name) : this.fsPath(name);
  }

  protected async notInUse(name: string, kind: VolumeKind): Promise<void> {
    if (kind === 'block') await assertNotInUse(this.exec, this.disk(name), 'raw', `volume "${name}"`);
    else await assertNoMounts(this.fsPath(name), `volume "${name}"`);
  }

  /** Apply a filesystem volume's quota to a subvolume (enabling quotas on the first limit; 0 lifts a limit). */
  protected async applyQuota(path: string, bytes: number, lift = false): Promise<void> {
    if (bytes === 0) {
      if (lift) await this.exec.run(qgroupLimitArgv(path, 0), { allowFailure: true }); // fails only when quotas are off: no limit then
      return;
    }
    if (!this.quotasOn) await this.exec.run(quotaEnableArgv(this.dirs.root));
    this.quotasOn = true;
    await this.exec.run(qgroupLimitArgv(path, bytes));
  }

  /** Build a new subvolume in .tmp with `build`, then rename it to `final`; on failure delete it. */
  protected async buildSubvolume(final: string, action: string, build: (tmp: string) => Promise<void>, viaSnapshotOf?: string): Promise<void> {
    const tmp = join(this.dirs.tmp, randomHex());
    await this.explained(action, async () => {
      try {
        await this.exec.run(viaSnapshotOf ? snapshotArgv(viaSnapshotOf, tmp, false) : subvolumeCreateArgv(tmp));
        await build(tmp);
        // A block volume's disk (a snapshot of an image base or of another VM's volume keeps that file's owner and mode).
        if (await exists(join(tmp, DISK_FILE))) await makePrivate(join(tmp, DISK_FILE));
        await rename(tmp, final);
      } catch (e) {
        if (await exists(tmp)) await deleteTree(this.exec, tmp);
        throw e;
      }
    });
  }


  protected async volumeNames(): Promise<string[]> {
    await this.open();
    return [...(await listDir(this.dirs.volumes)), ...(await listDir(this.dirs.filesystems)).filter((f) => !f.endsWith('.json'))].sort();
  }

  protected async requireSnapshot(volume: string, snapshot: string): Promise<string> {
    const p = join(this.snapDir(volume), snapshotName(snapshot));
    if (!(await exists(p))) throw notFound(`snapshot "${snapshot}" of volume "${volume}"`);
    return p;
  }
}
