// Internals of the dir driver (pool handle, checks, staging); the driver's methods are in dir-driver.ts.
import { rm } from 'node:fs/promises';
import { conflict, invalid, notFound } from '../../../lib/errors.js';
import type { Staged } from '../block-transfer.js';
import { exists, makePrivate, publishFile } from '../fs-util.js';
import { listDir, poolDirs, requireMarker, type PoolDirs, type PoolMarker } from '../pool-layout.js';
import { explainFailure } from '../storage-errors.js';
import type { PoolSpec, StorageDeps, VolumeFormat, VolumeInfo, VolumeKind } from '../types.js';
import { poolSpec, volumeName } from '../validate.js';
import type { BlockBackend } from './backend.js';
import { DirFsVolumes } from './fs-volumes.js';
import { Qcow2Backend } from './qcow2-backend.js';
import { RawBackend } from './raw-backend.js';

/** Pool handle, checks and staging shared by the dir driver's operations. */
export abstract class DirPoolBase {
  readonly spec: PoolSpec;
  protected readonly dirs: PoolDirs;
  protected opened?: { marker: PoolMarker; block: BlockBackend; fs: DirFsVolumes };

  constructor(spec: PoolSpec, protected readonly deps: StorageDeps) {
    this.spec = poolSpec(spec);
    this.dirs = poolDirs(this.spec.path);
  }

  protected get format(): VolumeFormat {
    return this.spec.options.format ?? 'qcow2';
  }

  protected async open() {
    if (!this.opened) this.use(await requireMarker(this.spec, this.dirs));
    return this.opened!;
  }

  protected use(marker: PoolMarker) {
    const ctx = { exec: this.deps.exec, dirs: this.dirs, pool: this.spec.name, reflink: marker.reflink };
    const block = marker.format === 'raw' ? new RawBackend(ctx) : new Qcow2Backend(ctx);
    this.opened = { marker, block, fs: new DirFsVolumes(this.deps.exec, this.dirs, this.spec.name) };
  }

  protected key(name: string): string {
    return `${this.dirs.root}\0${name}`;
  }

  protected get basesKey(): string {
    return `${this.dirs.root}\0#bases`;
  }

  /** Run fn; make a full pool or an image lock a clear error. */
  protected async explained<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw explainFailure(e, this.spec.name, action);
    }
  }

  protected async kindOf(name: string): Promise<VolumeKind | null> {
    const { block, fs } = await this.open();
    if (await exists(block.file(name))) return 'block';
    if (await exists(fs.path(name))) return 'filesystem';
    return null;
  }

  protected async requireKind(name: string): Promise<VolumeKind> {
    const kind = await this.kindOf(volumeName(name));
    if (!kind) throw notFound(`volume "${name}" in pool "${this.spec.name}"`);
    return kind;
  }

  protected async requireFree(name: string): Promise<void> {
    if (await this.kindOf(volumeName(name))) throw conflict(`volume "${name}" already exists in pool "${this.spec.name}"`);
  }

  /** The block backend, or InvalidArgument saying why a filesystem volume cannot do `what`. */
  protected async requireBlock(name: string, _what: 'export'): Promise<BlockBackend> {
    if ((await this.requireKind(name)) !== 'block') {
      throw invalid(`volume "${name}" is a filesystem volume; only block volumes are exported as disk images`);
    }
    return (await this.open()).block;
  }

  /** A staging file for a new block volume, published under `name`. */
  protected staged(block: BlockBackend, name: string): Staged {
    const dataFile = block.tmpFile();
    return {
      dataFile,
      publish: async () => {
        await makePrivate(dataFile); // whatever made it (qemu-img, cp, a reflink of a VM's disk): root's, 0600
        await publishFile(dataFile, block.file(name), `volume "${name}"`);
      },
      discard: () => rm(dataFile, { force: true }),
    };
  }

  /** Build a new block volume with `build`, publish it, or remove every trace on failure. */
  protected async buildBlock(name: string, action: string, build: (s: Staged) => Promise<void>): Promise<VolumeInfo> {
    const { block } = await this.open();
    const s = this.staged(block, name);
    await this.explained(action, async () => {
      try {
        await build(s);
        await s.publish();
      } catch (e) {
        await s.discard();
        throw e;
      }
    });
    return this.volumeInfo(name);
  }


  protected async volumeNames(): Promise<string[]> {
    const { block } = await this.open();
    const ext = `.${block.format}`;
    const blocks = (await listDir(this.dirs.volumes)).filter((f) => f.endsWith(ext)).map((f) => f.slice(0, -ext.length));
    const fss = (await listDir(this.dirs.filesystems)).filter((f) => !f.endsWith('.json'));
    return [...blocks, ...fss].sort();
  }

  /** Sizes of one volume (the driver implements it). */
  abstract volumeInfo(name: string): Promise<VolumeInfo>;
}
