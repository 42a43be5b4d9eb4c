import type { HostExec } from '../../host/exec.js';

// One interface for every storage backend. A driver instance is a handle on ONE pool.
// How the planned drivers fit it:
// - lvm-thin: PoolSpec.path = "VG/THINPOOL"; a block volume is a thin LV (lvcreate -V, thin);
//   volumePath -> { type: 'block-device', path: '/dev/VG/LV', format: 'raw' }; snapshots and linked
//   clones are thin snapshots (lvcreate -s, O(1)); restoreSnapshot = lvconvert --merge or swap LVs;
//   resize = lvextend; importVolume = qemu-img convert -O raw onto the LV. No filesystem volumes
//   unless it formats an LV (capabilities say so).
// - rbd: PoolSpec.path = Ceph pool name, options carry cluster/user; volumePath ->
//   { type: 'rbd', path: 'POOL/IMAGE', format: 'raw' } which QEMU opens with its rbd block driver;
//   snapshots = rbd snap create/rollback/rm; linked clones = rbd snap protect + rbd clone (refcounted
//   by Ceph itself: a protected parent cannot be deleted); cloneFromImage clones the image's
//   protected snapshot; import/export = qemu-img convert to/from rbd:POOL/IMAGE.
// Everything a caller needs to differ on is in StorageCapabilities, never in the method set.

/** Names of storage drivers in the registry. */
export type StorageDriverName = 'dir' | 'btrfs';

/** On-disk format of a block volume. */
export type VolumeFormat = 'qcow2' | 'raw';

/** A block volume is a virtual disk (VMs); a filesystem volume is a directory tree (containers). */
export type VolumeKind = 'block' | 'filesystem';

/** Driver options of a pool (dir: format; planned drivers add their own keys). */
export interface PoolOptions {
  /** Format of block volumes in a dir pool (default qcow2; raw needs a reflink filesystem). */
  format?: VolumeFormat;
}

/** What the user asked for: a named pool of one driver at a place. */
export interface PoolSpec {
  name: string;
  driver: StorageDriverName;
  /** dir/btrfs: an absolute directory (created if missing). lvm-thin: VG/THINPOOL. rbd: Ceph pool. */
  path: string;
  options: PoolOptions;
}

/** A volume to create. */
export interface VolumeSpec {
  name: string;
  kind: VolumeKind;
  /** Block: the virtual disk size. Filesystem: the quota (0 = no limit). */
  sizeBytes: number;
  /** Must match the pool's format when given. */
  format?: VolumeFormat;
}

/** What a pool can do; callers branch on these, never on the driver name. */
export interface StorageCapabilities {
  /** Block volume formats this pool stores (exactly one per pool). */
  formats: VolumeFormat[];
  /** The filesystem shares blocks between copies (cp --reflink): copies are O(extents). */
  reflink: boolean;
  /** Block volumes have snapshots (create/list/restore/delete). */
  snapshots: boolean;
  /** createSnapshot may be called while a VM writes the volume (crash-consistent); else use QMP. */
  liveSnapshots: boolean;
  /** Raw block volumes. */
  raw: boolean;
  /** Filesystem volumes (directories for containers). */
  filesystemVolumes: boolean;
  /**
   * Filesystem volumes have snapshots (create/list/restore/delete) and full clones from a
   * snapshot. What one costs is filesystemLinkedClones: O(1) when true; otherwise (dir) a
   * snapshot is a copy of the volume's tree (`cp -a --reflink=auto --one-file-system`, so a
   * mount inside the volume, such as a container's overlay rootfs, is not entered): O(size of
   * the data) — for a container root that is its overlay upper, i.e. O(size of its changes),
   * with blocks shared where the filesystem reflinks. Restore swaps directories and is refused
   * while anything is mounted inside the volume.
   */
  filesystemSnapshots: boolean;
  /** Filesystem snapshots and linked clones are copy-on-write, O(1) whatever the size (btrfs subvolume snapshots). */
  filesystemLinkedClones: boolean;
  /** Filesystem volume sizes are enforced (quotas). */
  quotas: boolean;
  /** Copy-on-write clones in O(1) / O(extents), whatever the volume size. */
  linkedClones: boolean;
  /** Linked clones also from a snapshot, or of a volume that has snapshots. */
  linkedClonesWithSnapshots: boolean;
}

/** Space of a pool. */
export interface PoolUsage {
  sizeBytes: number;
  usedBytes: number;
  availableBytes: number;
  /** Sum of the virtual sizes (block) and quotas (filesystem) of all volumes. */
  provisionedBytes: number;
  volumes: number;
}

/** What a volume is now. */
export interface VolumeInfo {
  name: string;
  kind: VolumeKind;
  /** Block volumes only. */
  format?: VolumeFormat;
  /** Block: disk size. Filesystem: quota (0 = none). */
  virtualSizeBytes: number;
  /** Bytes this volume occupies in the pool (blocks shared with clones/bases counted where the fs says so). */
  allocatedBytes: number;
  snapshots: number;
  /** True when the volume reads some data from a shared, immutable base (qcow2 linked clone). */
  linked: boolean;
}

/** How a consumer reaches a volume: QEMU opens files/devices/rbd, a container uses a directory. */
export interface VolumeLocation {
  type: 'file' | 'block-device' | 'directory' | 'rbd';
  /** Absolute path (file, block-device, directory) or POOL/IMAGE (rbd). */
  path: string;
  /** Format QEMU must open it with (never probed). Block volumes only. */
  format?: VolumeFormat;
}

/** A volume snapshot. */
export interface SnapshotInfo {
  name: string;
  /** ISO 8601. */
  createdAt: string;
  /** Size of saved VM RAM state (qcow2 snapshots made with QMP snapshot-save), else 0. */
  vmStateBytes: number;
}

/** How to clone a volume. */
export interface CloneOptions {
  /** linked: copy-on-write, O(1) whatever the size; full: an independent copy. */
  mode: 'linked' | 'full';
  /** Clone this snapshot of the source instead of its current data. */
  fromSnapshot?: string;
}

/** Progress of a long transfer: percent 0-100 and a short message. */
export type ProgressFn = (percent: number, message: string) => void;

/** Options of import/export. */
export interface TransferOptions {
  progress?: ProgressFn;
  signal?: AbortSignal;
}

/**
 * One storage pool. Methods act on volumes NOT in use by a running VM or container, except
 * createSnapshot/cloneVolume where capabilities.liveSnapshots is true. For a running VM on a
 * qcow2 volume, the caller snapshots and resizes through QMP (blockdev-snapshot-internal-sync,
 * snapshot-save, block_resize) instead. Block volumes in use (QEMU image locks) are refused with
 * Conflict by mutating methods.
 */
export interface StorageDriver {
  readonly spec: PoolSpec;
  /** Create (or adopt, when already a pool of the same driver and format) the pool; idempotent. */
  initPool(): Promise<void>;
  /** Remove the pool's own files; Conflict while it still holds volumes. */
  deletePool(): Promise<void>;
  /** What this pool can do (after initPool). */
  capabilities(): Promise<StorageCapabilities>;
  /** Size, used and provisioned bytes. */
  poolUsage(): Promise<PoolUsage>;
  /** Every volume of the pool. */
  listVolumes(): Promise<VolumeInfo[]>;
  /** Create a thin volume. */
  createVolume(spec: VolumeSpec): Promise<VolumeInfo>;
  /** Delete a volume with its snapshots (clones stay valid). */
  deleteVolume(name: string): Promise<void>;
  /** Grow a volume (block: disk size; filesystem: quota); shrinking is refused. */
  resizeVolume(name: string, sizeBytes: number): Promise<VolumeInfo>;
  /** Rename a volume (its snapshots follow). */
  renameVolume(name: string, newName: string): Promise<void>;
  /** What QEMU opens, or the directory a container uses. */
  volumePath(name: string): Promise<VolumeLocation>;
  /** Sizes, format and snapshot count of a volume. */
  volumeInfo(name: string): Promise<VolumeInfo>;
  /** Snapshot a volume's current data. */
  createSnapshot(volume: string, snapshot: string): Promise<SnapshotInfo>;
  /** Snapshots of a volume, oldest first. */
  listSnapshots(volume: string): Promise<SnapshotInfo[]>;
  /** Roll a volume back to a snapshot (later snapshots are kept). */
  restoreSnapshot(volume: string, snapshot: string): Promise<void>;
  /** Delete one snapshot. */
  deleteSnapshot(volume: string, snapshot: string): Promise<void>;
  /** Clone a volume (or one of its snapshots) into a new volume. */
  cloneVolume(source: string, target: string, opts: CloneOptions): Promise<VolumeInfo>;
  /** Import a qcow2/raw file as a new block volume (converted to the pool's format). */
  importVolume(file: string, format: VolumeFormat, name: string, opts?: TransferOptions): Promise<VolumeInfo>;
  /** Export a block volume's current data to a new file (never overwrites). */
  exportVolume(name: string, file: string, format: VolumeFormat, opts?: TransferOptions): Promise<void>;
  /** A new block volume of sizeBytes backed by an immutable image file, in milliseconds whatever its size. */
  cloneFromImage(imagePath: string, imageFormat: VolumeFormat, target: string, sizeBytes: number): Promise<VolumeInfo>;
}

/** What drivers need from the host. */
export interface StorageDeps {
  exec: HostExec;
}

/** Makes a driver handle for one pool. */
export type StorageDriverFactory = (spec: PoolSpec, deps: StorageDeps) => StorageDriver;
