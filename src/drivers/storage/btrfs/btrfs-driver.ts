// The btrfs driver: every volume is a subvolume. A block volume is volumes/NAME/ holding a raw
// sparse disk.raw; a filesystem volume is filesystems/NAME/ (a container's tree) with a quota
// through its qgroup. Snapshots are read-only subvolume snapshots in snapshots/NAME/SNAP (O(1),
// whatever the size); restore snapshots one back as a new writable subvolume and swaps it in;
// clones are writable snapshots (linked) or reflink copies (full) — neither depends on its source.
// A btrfs snapshot of a file a running VM writes is crash-consistent, so snapshots and clones
// may be taken live; restore, delete, rename and resize need the volume unused. A filesystem
// volume is in use while anything is mounted inside it (a container's overlay rootfs); a
// snapshot never includes such mounts (a subvolume snapshot does not cross into them).
// Note: `btrfs quota enable` switches quota accounting on for the whole filesystem (first quota'd
// volume only); qgroups cost some performance with many snapshots.
import { mkdir, rename, rm, rmdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { conflict, invalid } from '../../../lib/errors.js';
import { checkImportSource, exportTo, importInto, type Staged } from '../block-transfer.js';
import { exists, fsSpace, fsTypeOf, makePrivate, randomHex, treeBytes } from '../fs-util.js';
import { imageIdentity } from '../image-base.js';
import { withLocks } from '../locks.js';
import { initPoolDirs, listDir, readFsMeta, removePoolDirs, sweepTmp, writeFsMeta } from '../pool-layout.js';
import type {
  CloneOptions, PoolUsage, SnapshotInfo, StorageCapabilities, StorageDriver,
  TransferOptions, VolumeFormat, VolumeInfo, VolumeLocation, VolumeSpec,
} from '../types.js';
import { blockSize, checkGrow, cloneOptions, quotaSize, snapshotName, volumeFormat, volumeName, volumeSpec } from '../validate.js';
import { clearStaleArgv, deleteTree, snapshotArgv, subvolumeCreateArgv } from './btrfs-cmd.js';
import { createDisk, DISK_FILE, ensureImageBase, pruneImageBases } from './btrfs-images.js';
import { BtrfsPoolBase } from './btrfs-pool.js';

const quota = (n: number) => (n === 0 ? Infinity : n);

/** A btrfs pool. */
export class BtrfsStorageDriver extends BtrfsPoolBase implements StorageDriver {
  async initPool(): Promise<void> {
    await initPoolDirs(this.spec, async (d) => ({ fsType: await fsTypeOf(d.root), reflink: true }), (p) => {
      if (p.fsType !== 'btrfs') throw invalid(`a btrfs pool must be on a btrfs filesystem; ${this.spec.path} is on ${p.fsType}`);
    });
    this.opened = true;
    await sweepTmp(this.dirs, (p) => deleteTree(this.exec, p));
  }

  async deletePool(): Promise<void> {
    await this.open();
    const names = await this.volumeNames();
    if (names.length > 0) throw conflict(`pool "${this.spec.name}" still holds ${names.length} volume(s) (${names.slice(0, 5).join(', ')}); delete them first`);
    await pruneImageBases(this.exec, this.dirs, true);
    await removePoolDirs(this.dirs);
    this.opened = false;
  }

  async capabilities(): Promise<StorageCapabilities> {
    await this.open();
    return {
      formats: ['raw'], reflink: true, snapshots: true, liveSnapshots: true, raw: true, filesystemVolumes: true,
      filesystemSnapshots: true, filesystemLinkedClones: true, quotas: true, linkedClones: true, linkedClonesWithSnapshots: true,
    };
  }

  async poolUsage(): Promise<PoolUsage> {
    await this.open();
    let provisioned = 0;
    const names = await this.volumeNames();
    for (const n of names) {
      provisioned += (await exists(this.blockPath(n))) ? ((await stat(this.disk(n)).catch(() => null))?.size ?? 0) : (await readFsMeta(this.dirs, n)).sizeBytes;
    }
    return { ...(await fsSpace(this.dirs.root)), provisionedBytes: provisioned, volumes: names.length };
  }

  async listVolumes(): Promise<VolumeInfo[]> {
    const out: VolumeInfo[] = [];
    for (const n of await this.volumeNames()) {
      const v = await this.volumeInfo(n).catch(() => null);
      if (v) out.push(v);
    }
    return out;
  }

  async createVolume(spec: VolumeSpec): Promise<VolumeInfo> {
    const v = volumeSpec(spec, 'raw', this.spec.name);
    return withLocks([this.key(v.name)], async () => {
      await this.requireFree(v.name);
      if (v.kind === 'block') {
        await this.buildSubvolume(this.blockPath(v.name), `creating volume "${v.name}"`, (tmp) => createDisk(join(tmp, DISK_FILE), v.sizeBytes));
      } else {
        await writeFsMeta(this.dirs, v.name, { sizeBytes: v.sizeBytes });
        await this.buildSubvolume(this.fsPath(v.name), `creating volume "${v.name}"`, (tmp) => this.applyQuota(tmp, v.sizeBytes))
          .catch(async (e) => {
            await rm(join(this.dirs.filesystems, `${v.name}.json`), { force: true });
            throw e;
          });
      }
      return this.volumeInfo(v.name);
    });
  }

  async deleteVolume(name: string): Promise<void> {
    await withLocks([this.key(name)], async () => {
      const kind = await this.requireKind(name);
      await this.notInUse(name, kind);
      const trash = join(this.dirs.tmp, `del-${randomHex()}`);
      await rename(this.volPath(name, kind), trash); // gone from the pool at once
      await deleteTree(this.exec, trash);
      for (const s of await listDir(this.snapDir(name))) await deleteTree(this.exec, join(this.snapDir(name), s));
      await rmdir(this.snapDir(name)).catch(() => {});
      await rm(join(this.dirs.filesystems, `${name}.json`), { force: true });
      if (this.quotasOn) await this.exec.run(clearStaleArgv(this.dirs.root), { allowFailure: true });
    });
  }

  async resizeVolume(name: string, sizeBytes: number): Promise<VolumeInfo> {
    return withLocks([this.key(name)], async () => {
      if ((await this.requireKind(name)) === 'filesystem') {
        const want = quotaSize(sizeBytes);
        checkGrow(name, quota((await readFsMeta(this.dirs, name)).sizeBytes), quota(want));
        await this.explained(`resizing volume "${name}"`, () => this.applyQuota(this.fsPath(name), want, true));
        await writeFsMeta(this.dirs, name, { sizeBytes: want });
      } else {
        const want = blockSize(sizeBytes);
        const cur = (await stat(this.disk(name))).size;
        checkGrow(name, cur, want);
        await this.notInUse(name, 'block');
        if (want > cur) await truncate(this.disk(name), want);
      }
      return this.volumeInfo(name);
    });
  }

  async renameVolume(name: string, newName: string): Promise<void> {
    volumeName(newName);
    await withLocks([this.key(name), this.key(newName)], async () => {
      const kind = await this.requireKind(name);
      await this.requireFree(newName);
      await this.notInUse(name, kind);
      await rename(this.volPath(name, kind), this.volPath(newName, kind));
      if (await exists(this.snapDir(name))) await rename(this.snapDir(name), this.snapDir(newName));
      if (kind === 'filesystem') await rename(join(this.dirs.filesystems, `${name}.json`), join(this.dirs.filesystems, `${newName}.json`)).catch(() => {});
    });
  }

  async volumePath(name: string): Promise<VolumeLocation> {
    if ((await this.requireKind(name)) === 'filesystem') return { type: 'directory', path: this.fsPath(name) };
    return { type: 'file', path: this.disk(name), format: 'raw' };
  }

  async volumeInfo(name: string): Promise<VolumeInfo> {
    const kind = await this.requireKind(name);
    const snapshots = (await listDir(this.snapDir(name))).length;
    if (kind === 'filesystem') {
      const meta = await readFsMeta(this.dirs, name);
      return { name, kind, virtualSizeBytes: meta.sizeBytes, allocatedBytes: await treeBytes(this.exec, this.fsPath(name)), snapshots, linked: false };
    }
    const st = await stat(this.disk(name));
    return { name, kind, format: 'raw', virtualSizeBytes: st.size, allocatedBytes: st.blocks * 512, snapshots, linked: false };
  }

  async createSnapshot(volume: string, snapshot: string): Promise<SnapshotInfo> {
    snapshotName(snapshot);
    return withLocks([this.key(volume)], async () => {
      const kind = await this.requireKind(volume);
      const target = join(this.snapDir(volume), snapshot);
      if (await exists(target)) throw conflict(`volume "${volume}" already has a snapshot "${snapshot}"`);
      await mkdir(this.snapDir(volume), { recursive: true, mode: 0o700 }); // QEMU never opens a snapshot: root only
      await this.explained(`snapshotting volume "${volume}"`, () => this.exec.run(snapshotArgv(this.volPath(volume, kind), target, true)));
      return { name: snapshot, createdAt: (await stat(target)).birthtime.toISOString(), vmStateBytes: 0 };
    });
  }

  async listSnapshots(volume: string): Promise<SnapshotInfo[]> {
    await this.requireKind(volume);
    const found: { t: number; s: SnapshotInfo }[] = [];
    for (const name of await listDir(this.snapDir(volume))) {
      const st = await stat(join(this.snapDir(volume), name));
      found.push({ t: st.birthtimeMs, s: { name, createdAt: st.birthtime.toISOString(), vmStateBytes: 0 } });
    }
    return found.sort((a, b) => a.t - b.t).map((x) => x.s);
  }

  async restoreSnapshot(volume: string, snapshot: string): Promise<void> {
    await withLocks([this.key(volume)], async () => {
      const kind = await this.requireKind(volume);
      const snap = await this.requireSnapshot(volume, snapshot);
      await this.notInUse(volume, kind);
      const live = this.volPath(volume, kind);
      const old = join(this.dirs.tmp, `old-${randomHex()}`);
      const fresh = join(this.dirs.tmp, `restored-${randomHex()}`);
      await this.buildSubvolume(fresh, `restoring volume "${volume}"`, async (tmp) => {
        if (kind === 'filesystem') await this.applyQuota(tmp, (await readFsMeta(this.dirs, volume)).sizeBytes);
      }, snap);
      await rename(live, old);
      await rename(fresh, live).catch(async (e) => {
        await rename(old, live);
        throw e;
      });
      await deleteTree(this.exec, old);
    });
  }

  async deleteSnapshot(volume: string, snapshot: string): Promise<void> {
    await withLocks([this.key(volume)], async () => {
      await this.requireKind(volume);
      await deleteTree(this.exec, await this.requireSnapshot(volume, snapshot));
    });
  }

  async cloneVolume(source: string, target: string, opts: CloneOptions): Promise<VolumeInfo> {
    cloneOptions(opts);
    volumeName(target);
    return withLocks([this.key(source), this.key(target)], async () => {
      const kind = await this.requireKind(source);
      await this.requireFree(target);
      const from = opts.fromSnapshot === undefined ? this.volPath(source, kind) : await this.requireSnapshot(source, opts.fromSnapshot);
      const size = (await readFsMeta(this.dirs, source)).sizeBytes;
      if (kind === 'filesystem') await writeFsMeta(this.dirs, target, { sizeBytes: size });
      const build = async (tmp: string) => {
        if (opts.mode === 'full') await this.exec.run(['cp', '-a', '--reflink=always', '--', `${from}/.`, tmp], { timeoutMs: 6 * 3600_000 });
        if (kind === 'filesystem') await this.applyQuota(tmp, size);
      };
      await this.buildSubvolume(this.volPath(target, kind), `cloning volume "${source}"`, build, opts.mode === 'linked' ? from : undefined)
        .catch(async (e) => {
          if (kind === 'filesystem') await rm(join(this.dirs.filesystems, `${target}.json`), { force: true });
          throw e;
        });
      return this.volumeInfo(target);
    });
  }

  async importVolume(file: string, format: VolumeFormat, name: string, opts: TransferOptions = {}): Promise<VolumeInfo> {
    volumeName(name);
    const src = await checkImportSource(this.exec, file, volumeFormat(format));
    return withLocks([this.key(name)], async () => {
      await this.requireFree(name);
      const tmp = join(this.dirs.tmp, randomHex());
      await this.exec.run(subvolumeCreateArgv(tmp));
      const staged: Staged = {
        dataFile: join(tmp, DISK_FILE),
        publish: async () => {
          await makePrivate(join(tmp, DISK_FILE));
          await rename(tmp, this.blockPath(name));
        },
        discard: () => deleteTree(this.exec, tmp),
      };
      await this.explained(`importing volume "${name}"`, () => importInto(this.exec, src, format, 'raw', staged, opts));
      return this.volumeInfo(name);
    });
  }

  async exportVolume(name: string, file: string, format: VolumeFormat, opts: TransferOptions = {}): Promise<void> {
    volumeFormat(format);
    await withLocks([this.key(name)], async () => {
      if ((await this.requireKind(name)) !== 'block') throw invalid(`volume "${name}" is a filesystem volume; only block volumes are exported as disk images`);
      await this.explained(`exporting volume "${name}"`, () => exportTo(this.exec, this.disk(name), 'raw', file, format, opts));
    });
  }

  async cloneFromImage(imagePath: string, imageFormat: VolumeFormat, target: string, sizeBytes: number): Promise<VolumeInfo> {
    volumeName(target);
    const format = volumeFormat(imageFormat, 'image format');
    const size = blockSize(sizeBytes);
    const id = await imageIdentity(imagePath).catch(() => {
      throw invalid(`image ${imagePath} does not exist`);
    });
    return withLocks([this.key(target), `${this.dirs.root}\0#bases`], async () => {
      await this.requireFree(target);
      const base = await this.explained('bringing the image into the pool', () => ensureImageBase(this.exec, this.dirs, id, format));
      if (size < base.virtualSize) throw invalid(`volume size ${size} is smaller than the image (${base.virtualSize} bytes)`);
      await this.buildSubvolume(this.blockPath(target), `creating volume "${target}" from an image`, (tmp) => truncate(join(tmp, DISK_FILE), size), base.path);
      await pruneImageBases(this.exec, this.dirs).catch(() => 0);
      return this.volumeInfo(target);
    });
  }
}
