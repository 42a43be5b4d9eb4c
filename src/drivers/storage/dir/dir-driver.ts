// The dir driver: block volumes are files in PATH/volumes (qcow2 by default; raw sparse files
// with reflink snapshots/clones when options.format is raw, which needs XFS/btrfs), filesystem
// volumes are plain directories with snapshots as tree copies (see fs-volumes.ts). Names are validated, each operation locks the volumes it
// touches, and new data is built in PATH/.tmp and published by link/rename when complete.
import { rm } from 'node:fs/promises';
import { conflict, invalid } from '../../../lib/errors.js';
import { exportTo, checkImportSource, importInto } from '../block-transfer.js';
import { exists, fsSpace, fsTypeOf, probeReflink, publishFile } from '../fs-util.js';
import { imageIdentity } from '../image-base.js';
import { withLocks } from '../locks.js';
import { initPoolDirs, readFsMeta, removePoolDirs, sweepTmp } from '../pool-layout.js';
import { assertNotInUse } from '../storage-errors.js';
import type {
  CloneOptions, PoolUsage, SnapshotInfo, StorageCapabilities, StorageDriver,
  TransferOptions, VolumeFormat, VolumeInfo, VolumeLocation, VolumeSpec,
} from '../types.js';
import { blockSize, checkGrow, cloneOptions, quotaSize, snapshotName, volumeFormat, volumeName, volumeSpec } from '../validate.js';
import { DirPoolBase } from './dir-pool.js';

/** Effective quota for comparisons (0 = unlimited). */
const quota = (n: number) => (n === 0 ? Infinity : n);

/** A dir pool. */
export class DirStorageDriver extends DirPoolBase implements StorageDriver {
  async initPool(): Promise<void> {
    const marker = await initPoolDirs(
      this.spec,
      async (d) => ({ fsType: await fsTypeOf(d.root), reflink: await probeReflink(this.deps.exec, d.tmp) }),
      (p) => {
        if (this.format === 'raw' && !p.reflink) {
          throw invalid(`pool format raw needs a filesystem with reflinks (XFS made with reflink=1, or btrfs) for its snapshots and clones; ${this.spec.path} is on ${p.fsType}: use format qcow2 there`);
        }
      },
    );
    this.use(marker);
    await sweepTmp(this.dirs, (p) => rm(p, { recursive: true, force: true }));
  }

  async deletePool(): Promise<void> {
    const { block } = await this.open();
    await withLocks([this.basesKey], async () => {
      const names = await this.volumeNames();
      if (names.length > 0) throw conflict(`pool "${this.spec.name}" still holds ${names.length} volume(s) (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''}); delete them first`);
      await block.gc(true);
      await removePoolDirs(this.dirs);
      this.opened = undefined;
    });
  }

  async capabilities(): Promise<StorageCapabilities> {
    const { marker } = await this.open();
    const raw = marker.format === 'raw';
    return {
      formats: [marker.format], reflink: marker.reflink, snapshots: true, liveSnapshots: raw, raw,
      filesystemVolumes: true, filesystemSnapshots: true, filesystemLinkedClones: false, quotas: false,
      linkedClones: true, linkedClonesWithSnapshots: raw || marker.reflink,
    };
  }

  async poolUsage(): Promise<PoolUsage> {
    const { block } = await this.open();
    let provisioned = 0;
    const names = await this.volumeNames();
    for (const n of names) {
      if (await exists(block.file(n))) provisioned += (await block.stat(n).catch(() => ({ virtualSize: 0 }))).virtualSize;
      else provisioned += (await readFsMeta(this.dirs, n)).sizeBytes;
    }
    return { ...(await fsSpace(this.dirs.root)), provisionedBytes: provisioned, volumes: names.length };
  }

  async listVolumes(): Promise<VolumeInfo[]> {
    const out: VolumeInfo[] = [];
    for (const n of await this.volumeNames()) {
      const v = await this.volumeInfo(n).catch(() => null); // removed meanwhile
      if (v) out.push(v);
    }
    return out;
  }

  async createVolume(spec: VolumeSpec): Promise<VolumeInfo> {
    const { block, fs } = await this.open();
    const v = volumeSpec(spec, this.format, this.spec.name);
    return withLocks([this.key(v.name)], async () => {
      await this.requireFree(v.name);
      if (v.kind === 'filesystem') {
        await this.explained(`creating volume "${v.name}"`, () => fs.create(v.name, v.sizeBytes));
        return this.volumeInfo(v.name);
      }
      return this.buildBlock(v.name, `creating volume "${v.name}"`, (s) => block.create(s.dataFile, v.sizeBytes));
    });
  }

  async deleteVolume(name: string): Promise<void> {
    const { block, fs } = await this.open();
    await withLocks([this.key(name), this.basesKey], async () => {
      if ((await this.requireKind(name)) === 'filesystem') return fs.delete(name);
      await assertNotInUse(this.deps.exec, block.file(name), block.format, `volume "${name}"`);
      await rm(block.file(name));
      await block.deleted(name);
    });
  }

  async resizeVolume(name: string, sizeBytes: number): Promise<VolumeInfo> {
    const { block, fs } = await this.open();
    return withLocks([this.key(name)], async () => {
      if ((await this.requireKind(name)) === 'filesystem') {
        const want = quotaSize(sizeBytes);
        const cur = (await readFsMeta(this.dirs, name)).sizeBytes;
        checkGrow(name, quota(cur), quota(want));
        await fs.resize(name, want);
      } else {
        const want = blockSize(sizeBytes);
        const cur = (await block.stat(name)).virtualSize;
        checkGrow(name, cur, want);
        if (want > cur) await this.explained(`resizing volume "${name}"`, () => block.resize(name, want));
      }
      return this.volumeInfo(name);
    });
  }

  async renameVolume(name: string, newName: string): Promise<void> {
    const { block, fs } = await this.open();
    volumeName(newName);
    await withLocks([this.key(name), this.key(newName)], async () => {
      const kind = await this.requireKind(name);
      await this.requireFree(newName);
      if (kind === 'filesystem') return fs.rename(name, newName);
      await assertNotInUse(this.deps.exec, block.file(name), block.format, `volume "${name}"`);
      await publishFile(block.file(name), block.file(newName), `volume "${newName}"`);
      await block.renamed(name, newName);
    });
  }

  async volumePath(name: string): Promise<VolumeLocation> {
    const { block, fs } = await this.open();
    if ((await this.requireKind(name)) === 'filesystem') return { type: 'directory', path: fs.path(name) };
    return { type: 'file', path: block.file(name), format: block.format };
  }

  async volumeInfo(name: string): Promise<VolumeInfo> {
    const { block, fs } = await this.open();
    if ((await this.requireKind(name)) === 'filesystem') return fs.info(name);
    const s = await block.stat(name);
    return { name, kind: 'block', format: block.format, virtualSizeBytes: s.virtualSize, allocatedBytes: s.allocatedBytes, snapshots: s.snapshots, linked: s.linked };
  }

  async createSnapshot(volume: string, snapshot: string): Promise<SnapshotInfo> {
    snapshotName(snapshot);
    return withLocks([this.key(volume)], async () => {
      const { block, fs } = await this.open();
      const kind = await this.requireKind(volume);
      return this.explained(`snapshotting volume "${volume}"`, () => (kind === 'filesystem' ? fs.createSnapshot(volume, snapshot) : block.createSnapshot(volume, snapshot)));
    });
  }

  async listSnapshots(volume: string): Promise<SnapshotInfo[]> {
    if ((await this.requireKind(volume)) === 'filesystem') return (await this.open()).fs.listSnapshots(volume);
    return this.explained(`listing snapshots of "${volume}"`, async () => (await this.open()).block.listSnapshots(volume));
  }

  async restoreSnapshot(volume: string, snapshot: string): Promise<void> {
    snapshotName(snapshot);
    await withLocks([this.key(volume)], async () => {
      const { block, fs } = await this.open();
      const kind = await this.requireKind(volume);
      await this.explained(`restoring volume "${volume}"`, () => (kind === 'filesystem' ? fs.restoreSnapshot(volume, snapshot) : block.restoreSnapshot(volume, snapshot)));
    });
  }

  async deleteSnapshot(volume: string, snapshot: string): Promise<void> {
    snapshotName(snapshot);
    await withLocks([this.key(volume)], async () => {
      const { block, fs } = await this.open();
      const kind = await this.requireKind(volume);
      await this.explained(`deleting snapshot "${snapshot}"`, () => (kind === 'filesystem' ? fs.deleteSnapshot(volume, snapshot) : block.deleteSnapshot(volume, snapshot)));
    });
  }

  async cloneVolume(source: string, target: string, opts: CloneOptions): Promise<VolumeInfo> {
    const { block, fs } = await this.open();
    cloneOptions(opts);
    volumeName(target);
    return withLocks([this.key(source), this.key(target), this.basesKey], async () => {
      const kind = await this.requireKind(source);
      await this.requireFree(target);
      if (kind === 'filesystem') {
        await this.explained(`cloning volume "${source}"`, () => fs.cloneFull(source, target, opts.mode, opts.fromSnapshot));
        return this.volumeInfo(target);
      }
      return this.buildBlock(target, `cloning volume "${source}"`, (s) => block.clone(source, s.dataFile, opts));
    });
  }

  async importVolume(file: string, format: VolumeFormat, name: string, opts: TransferOptions = {}): Promise<VolumeInfo> {
    const { block } = await this.open();
    volumeName(name);
    const src = await checkImportSource(this.deps.exec, file, volumeFormat(format));
    return withLocks([this.key(name)], async () => {
      await this.requireFree(name);
      await this.explained(`importing volume "${name}"`, () => importInto(this.deps.exec, src, format, block.format, this.staged(block, name), opts));
      return this.volumeInfo(name);
    });
  }

  async exportVolume(name: string, file: string, format: VolumeFormat, opts: TransferOptions = {}): Promise<void> {
    volumeFormat(format);
    await withLocks([this.key(name)], async () => {
      const block = await this.requireBlock(name, 'export');
      await this.explained(`exporting volume "${name}"`, () => exportTo(this.deps.exec, block.file(name), block.format, file, format, opts));
    });
  }

  async cloneFromImage(imagePath: string, imageFormat: VolumeFormat, target: string, sizeBytes: number): Promise<VolumeInfo> {
    const { block } = await this.open();
    volumeName(target);
    const format = volumeFormat(imageFormat, 'image format');
    const size = blockSize(sizeBytes);
    const id = await imageIdentity(imagePath).catch(() => {
      throw invalid(`image ${imagePath} does not exist`);
    });
    return withLocks([this.key(target), this.basesKey], async () => {
      await this.requireFree(target);
      return this.buildBlock(target, `creating volume "${target}" from an image`, (s) => block.fromImage({ ...id, format }, s.dataFile, size));
    });
  }
}
