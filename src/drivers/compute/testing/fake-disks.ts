// In-memory VM disks for core unit tests of backups: each fake VM has a root disk of bytes, writes mark
// 64 KiB blocks dirty in every bitmap the disk carries, and openBlockBackup reads a copy taken at open
// (one instant) with the dirty extents of the base bitmap, like QEMU's fleecing export does.
import type { BlockBackupRequest, BlockBackupSession, BlockExtent, BlockReader } from '../../../shared/backup-source.js';

/** Bitmap granularity of the fake (QEMU's default for qcow2 is the cluster size, 64 KiB). */
export const FAKE_GRANULARITY = 64 * 1024;

/** One fake disk: its bytes and, per bitmap name, the blocks written since it was added. */
export interface FakeDisk {
  data: Buffer;
  bitmaps: Map<string, Set<number>>;
}

/** The fake VMs' disks, by instance UUID. */
export class FakeDisks {
  readonly disks = new Map<string, FakeDisk>();

  /** The disk of `uuid`, made (zeros, with a small header) on first use. */
  disk(uuid: string, size = 16 * 1024 * 1024): FakeDisk {
    let d = this.disks.get(uuid);
    if (!d) {
      d = { data: Buffer.alloc(size), bitmaps: new Map() };
      d.data.write(`fake disk of ${uuid}`, 0);
      this.disks.set(uuid, d);
    }
    return d;
  }

  /** Write `bytes` at `offset` (as the guest would): every bitmap marks the blocks. */
  write(uuid: string, offset: number, bytes: Buffer): void {
    const d = this.disk(uuid);
    bytes.copy(d.data, offset);
    for (const set of d.bitmaps.values()) {
      for (let b = Math.floor(offset / FAKE_GRANULARITY); b * FAKE_GRANULARITY < offset + bytes.length; b++) set.add(b);
    }
  }

  /** A session over a copy of the disk: incremental from the base bitmap when the disk has it. */
  open(uuid: string, req: BlockBackupRequest, live: boolean): BlockBackupSession {
    const d = this.disk(uuid);
    const base = req.baseBitmaps.root;
    const dirty = base !== undefined ? d.bitmaps.get(base) : undefined;
    d.bitmaps.set(req.newBitmap, new Set());
    const reader = new FakeReader(Buffer.from(d.data), dirty ? new Set(dirty) : undefined);
    return {
      disks: [{ id: 'root', reader, mode: dirty ? 'incremental' : 'full', ...(base !== undefined && !dirty ? { reason: `bitmap ${base} is not on the disk` } : {}), nextBitmap: req.newBitmap }],
      consistency: live ? 'crash-consistent' : 'stopped',
      finish: async (ok) => {
        if (ok) {
          for (const name of [...d.bitmaps.keys()]) if (name !== req.newBitmap && name.startsWith(req.bitmapPrefix)) d.bitmaps.delete(name);
        } else {
          const added = d.bitmaps.get(req.newBitmap)!;
          if (dirty) for (const b of added) dirty.add(b);
          d.bitmaps.delete(req.newBitmap);
        }
      },
    };
  }
}

/** A BlockReader over bytes: runs of zeros are holes; dirty = the block is in the base bitmap's set. */
class FakeReader implements BlockReader {
  bytesRead = 0;
  constructor(private data: Buffer, private dirty?: Set<number>) {}

  get size(): number {
    return this.data.length;
  }

  async extents(offset: number, length: number): Promise<BlockExtent[]> {
    const out: BlockExtent[] = [];
    for (let o = offset; o < offset + length; o += FAKE_GRANULARITY) {
      const n = Math.min(FAKE_GRANULARITY, offset + length - o);
      const zero = this.data.subarray(o, o + n).every((b) => b === 0);
      const dirty = this.dirty ? this.dirty.has(Math.floor(o / FAKE_GRANULARITY)) : true;
      const last = out.at(-1);
      if (last && last.zero === zero && last.dirty === dirty) last.length += n;
      else out.push({ offset: o, length: n, zero, dirty });
    }
    return out;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.bytesRead += length;
    return Buffer.from(this.data.subarray(offset, offset + length));
  }

  async close(): Promise<void> {}
}
