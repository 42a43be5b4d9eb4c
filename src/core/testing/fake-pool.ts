// An in-memory storage pool for core unit tests: volumes and their snapshots live in maps, every call is
// journaled, and any method can be made to fail on its nth call (like FakeInstanceDriver.failAt).
import { join } from 'node:path';
import { conflict, notFound, NimboError } from '../../lib/errors.js';
import type {
  CloneOptions, PoolSpec, SnapshotInfo, StorageCapabilities, StorageDriver, VolumeFormat, VolumeInfo, VolumeKind, VolumeLocation, VolumeSpec,
} from '../../drivers/storage/types.js';

/** One volume of the fake pool. */
export interface FakeVolume {
  kind: VolumeKind;
  sizeBytes: number;
  /** Where it came from (image path, source volume@snapshot), for assertions. */
  origin: string;
  snapshots: Map<string, SnapshotInfo>;
  /** Bumped by restoreSnapshot, so a test can see a restore reached the pool. */
  restores: number;
}

/** Capabilities like a btrfs pool's (filesystem volumes with quotas and snapshots, qcow2 block volumes). */
export const FULL_POOL: StorageCapabilities = {
  formats: ['qcow2'], reflink: true, snapshots: true, liveSnapshots: false, raw: false, filesystemVolumes: true,
  filesystemSnapshots: true, filesystemLinkedClones: true, quotas: true, linkedClones: true, linkedClonesWithSnapshots: false,
};

/** A StorageDriver that keeps its volumes in memory. */
export class FakePoolDriver implements StorageDriver {
  readonly volumes = new Map<string, FakeVolume>();
  readonly journal: { method: string; args: unknown[] }[] = [];
  private caps: StorageCapabilities;
  private failures = new Map<string, number>();
  private calls = new Map<string, number>();

  constructor(readonly spec: PoolSpec, caps: Partial<StorageCapabilities> = {}) {
    this.caps = { ...FULL_POOL, ...caps };
  }

  /** Make the nth call of `method` from now (default the next one) throw. */
  failAt(method: keyof StorageDriver, nth = 1): this {
    this.failures.set(method, (this.calls.get(method) ?? 0) + nth);
    return this;
  }

  private step(method: string, ...args: unknown[]): void {
    const n = (this.calls.get(method) ?? 0) + 1;
    this.calls.set(method, n);
    this.journal.push({ method, args });
    if (this.failures.get(method) === n) {
      this.failures.delete(method);
      throw new NimboError('HostCommandFailed', `injected failure in pool ${method}`);
    }
  }

  private vol(name: string): FakeVolume {
    const v = this.volumes.get(name);
    if (!v) throw notFound(`volume ${name} in pool ${this.spec.name}`);
    return v;
  }

  private add(name: string, v: Omit<FakeVolume, 'snapshots' | 'restores'>): VolumeInfo {
    if (this.volumes.has(name)) throw conflict(`volume ${name} already exists in pool ${this.spec.name}`);
    this.volumes.set(name, { ...v, snapshots: new Map(), restores: 0 });
    return this.info(name);
  }

  private info(name: string): VolumeInfo {
    const v = this.vol(name);
    return { name, kind: v.kind, ...(v.kind === 'block' ? { format: 'qcow2' as const } : {}), virtualSizeBytes: v.sizeBytes, allocatedBytes: 0, snapshots: v.snapshots.size, linked: false };
  }

  async initPool(): Promise<void> {
    this.step('initPool');
  }
  async deletePool(): Promise<void> {
    this.step('deletePool');
  }
  async capabilities(): Promise<StorageCapabilities> {
    this.step('capabilities');
    return { ...this.caps };
  }
  async poolUsage() {
    this.step('poolUsage');
    return { sizeBytes: 1 << 30, usedBytes: 0, availableBytes: 1 << 30, provisionedBytes: 0, volumes: this.volumes.size };
  }
  async listVolumes(): Promise<VolumeInfo[]> {
    this.step('listVolumes');
    return [...this.volumes.keys()].map((n) => this.info(n));
  }
  async createVolume(spec: VolumeSpec): Promise<VolumeInfo> {
    this.step('createVolume', spec);
    return this.add(spec.name, { kind: spec.kind, sizeBytes: spec.sizeBytes, origin: 'new' });
  }
  async deleteVolume(name: string): Promise<void> {
    this.step('deleteVolume', name);
    this.vol(name);
    this.volumes.delete(name);
  }
  async resizeVolume(name: string, sizeBytes: number): Promise<VolumeInfo> {
    this.step('resizeVolume', name, sizeBytes);
    this.vol(name).sizeBytes = sizeBytes;
    return this.info(name);
  }
  async renameVolume(name: string, newName: string): Promise<void> {
    this.step('renameVolume', name, newName);
    const v = this.vol(name);
    this.volumes.delete(name);
    this.volumes.set(newName, v);
  }
  async volumePath(name: string): Promise<VolumeLocation> {
    this.step('volumePath', name);
    const v = this.vol(name);
    const path = join(this.spec.path, name);
    return v.kind === 'block' ? { type: 'file', path, format: 'qcow2' } : { type: 'directory', path };
  }
  async volumeInfo(name: string): Promise<VolumeInfo> {
    this.step('volumeInfo', name);
    return this.info(name);
  }
  async createSnapshot(volume: string, snapshot: string): Promise<SnapshotInfo> {
    this.step('createSnapshot', volume, snapshot);
    const v = this.vol(volume);
    if (v.snapshots.has(snapshot)) throw conflict(`snapshot ${snapshot} of ${volume} already exists`);
    const s = { name: snapshot, createdAt: new Date().toISOString(), vmStateBytes: 0 };
    v.snapshots.set(snapshot, s);
    return s;
  }
  async listSnapshots(volume: string): Promise<SnapshotInfo[]> {
    this.step('listSnapshots', volume);
    return [...this.vol(volume).snapshots.values()];
  }
  async restoreSnapshot(volume: string, snapshot: string): Promise<void> {
    this.step('restoreSnapshot', volume, snapshot);
    const v = this.vol(volume);
    if (!v.snapshots.has(snapshot)) throw notFound(`snapshot ${snapshot} of ${volume}`);
    v.restores++;
  }
  async deleteSnapshot(volume: string, snapshot: string): Promise<void> {
    this.step('deleteSnapshot', volume, snapshot);
    if (!this.vol(volume).snapshots.delete(snapshot)) throw notFound(`snapshot ${snapshot} of ${volume}`);
  }
  async cloneVolume(source: string, target: string, opts: CloneOptions): Promise<VolumeInfo> {
    this.step('cloneVolume', source, target, opts);
    const src = this.vol(source);
    return this.add(target, { kind: src.kind, sizeBytes: src.sizeBytes, origin: `${source}${opts.fromSnapshot ? `@${opts.fromSnapshot}` : ''} (${opts.mode})` });
  }
  async importVolume(file: string, _format: VolumeFormat, name: string): Promise<VolumeInfo> {
    this.step('importVolume', file, name);
    return this.add(name, { kind: 'block', sizeBytes: 1 << 20, origin: file });
  }
  async exportVolume(name: string, file: string): Promise<void> {
    this.step('exportVolume', name, file);
    this.vol(name);
  }
  async cloneFromImage(imagePath: string, _imageFormat: VolumeFormat, target: string, sizeBytes: number): Promise<VolumeInfo> {
    this.step('cloneFromImage', imagePath, target, sizeBytes);
    return this.add(target, { kind: 'block', sizeBytes, origin: imagePath });
  }
}
