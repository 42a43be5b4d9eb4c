// What an instance driver hands the backup engine: its disks (block) or its file tree (filesystem),
// read at one instant. Drivers (rank 3) make these; src/backup (rank 4) reads them; core wires both.

/** A run of a block device: all zeros/unallocated (`zero`), and whether it changed since the base bitmap. */
export interface BlockExtent {
  offset: number;
  length: number;
  /** Reads as zeros (a hole or a zero cluster): never read, stored as the zero chunk. */
  zero: boolean;
  /** Changed since the base of an incremental; always true for a full read. */
  dirty: boolean;
}

/** A block device frozen at one instant (a fleecing export of a running VM, or a stopped VM's image). */
export interface BlockReader {
  /** Virtual size in bytes. */
  readonly size: number;
  /** Extents covering [offset, offset+length) in order, without gaps. */
  extents(offset: number, length: number): Promise<BlockExtent[]>;
  /** Exactly `length` bytes at `offset`. */
  read(offset: number, length: number): Promise<Buffer>;
  /** Bytes read from the device so far (data reads only; extent queries are not counted). */
  readonly bytesRead: number;
  close(): Promise<void>;
}

/** One disk of a block backup. */
export interface DiskBackupSource {
  /** 'root', or 'POOL/VOLUME' of an attached volume. */
  id: string;
  reader: BlockReader;
  /** incremental: extents' `dirty` is exact since the base bitmap; full: every extent is dirty. */
  mode: 'full' | 'incremental';
  /** Why a full read was needed when an incremental was asked for (logged and kept in the manifest). */
  reason?: string;
  /** The bitmap the NEXT incremental of this disk can start from, once finish(true) ran (null: none possible, e.g. raw). */
  nextBitmap: string | null;
}

/** How consistent a backup is. */
export type BackupConsistency = 'stopped' | 'crash-consistent' | 'application-consistent';

/** An open block backup of one instance: the disks at one instant, released by finish(). */
export interface BlockBackupSession {
  disks: DiskBackupSource[];
  consistency: BackupConsistency;
  /** ok: the new bitmaps become the bases for the next incremental; not ok: the old bases stay valid. Always releases exports and temp files. */
  finish(ok: boolean): Promise<void>;
}

/** What core asks of a block backup: per disk, the bitmap the last backup left (if any) and the name for a new one. */
export interface BlockBackupRequest {
  /** disk id -> bitmap name of the last backup of this disk in this datastore (absent: full). */
  baseBitmaps: Record<string, string>;
  /** Name for the bitmap that starts now (unique per backup, e.g. nimbo-<store8>-<backup id>). */
  newBitmap: string;
  /** Bitmaps whose name starts with this belong to this datastore; finish(true) removes the stale ones. */
  bitmapPrefix: string;
}

/** An open filesystem backup of one instance (a container): its root tree, whose owners are shifted by idBase. */
export interface FsBackupSession {
  /** Host path of the instance's whole root tree (merged view), read-only for the backup. */
  root: string;
  /** Host uid/gid of the container's id 0; a host id h inside [idBase, idBase+idCount) is stored as h-idBase. */
  idBase: number;
  idCount: number;
  consistency: BackupConsistency;
  /** Release what open did (unfreeze, unmount a root mounted only for the backup). */
  finish(): Promise<void>;
}
