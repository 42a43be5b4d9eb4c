import type { HostExec } from '../../../host/exec.js';
import type { PoolDirs } from '../pool-layout.js';
import type { CloneOptions, SnapshotInfo, VolumeFormat } from '../types.js';

/** What a block backend of the dir driver works with. */
export interface BlockContext {
  exec: HostExec;
  dirs: PoolDirs;
  pool: string;
  reflink: boolean;
}

/** A block volume's sizes as the backend sees them. */
export interface BlockStat {
  virtualSize: number;
  allocatedBytes: number;
  snapshots: number;
  linked: boolean;
}

/** A checked image for cloneFromImage. */
export interface ImageRef {
  path: string;
  format: VolumeFormat;
  key: string;
}

/**
 * Block volumes of one format in a dir pool (qcow2 files, or raw files with reflink copies).
 * The dir driver validates names, takes locks and builds in .tmp; a backend only moves bytes.
 * Every `tmp` argument is a fresh path in PATH/.tmp that the caller publishes or removes.
 */
export interface BlockBackend {
  readonly format: VolumeFormat;
  /** Path of a volume's file. */
  file(name: string): string;
  /** A fresh staging path for a volume file. */
  tmpFile(): string;
  /** Create an empty thin volume at tmp. */
  create(tmp: string, sizeBytes: number): Promise<void>;
  /** Sizes of a volume. */
  stat(name: string): Promise<BlockStat>;
  /** Grow a volume (size already checked). */
  resize(name: string, sizeBytes: number): Promise<void>;
  createSnapshot(name: string, snapshot: string): Promise<SnapshotInfo>;
  listSnapshots(name: string): Promise<SnapshotInfo[]>;
  restoreSnapshot(name: string, snapshot: string): Promise<void>;
  deleteSnapshot(name: string, snapshot: string): Promise<void>;
  /** Build a clone of source at tmp. */
  clone(source: string, tmp: string, opts: CloneOptions): Promise<void>;
  /** Build a new volume at tmp backed by (a pool copy of) an image. */
  fromImage(image: ImageRef, tmp: string, sizeBytes: number): Promise<void>;
  /** Rename a volume's side data (snapshots) after its file was renamed. */
  renamed(from: string, to: string): Promise<void>;
  /** Remove a deleted volume's side data (snapshots). */
  deleted(name: string): Promise<void>;
  /** Drop bases no volume needs any more (every image base too when `all`); returns how many went. */
  gc(all?: boolean): Promise<number>;
}
