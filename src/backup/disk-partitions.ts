// Pure parsing of a disk image's partition table (MBR or GPT) and of a partition's filesystem
// superblock magic, for single-file restore from a restored VM disk.
// MBR: https://en.wikipedia.org/wiki/Master_boot_record ; GPT: UEFI spec 2.10, ch. 5.3.
import { invalid } from '../lib/errors.js';

/** One partition of a disk image (index 0: a filesystem on the whole disk, no table). */
export interface DiskPartition {
  /** 1-based partition number, as Linux names them (vda1 ...); 0 for the whole disk. */
  index: number;
  /** Byte offset and size in the image. */
  start: number;
  size: number;
  /** The filesystem found at its start ('ext4' for ext2/3/4), or null when none we can open. */
  fs: 'ext4' | 'xfs' | null;
}

const SECTOR = 512;
/** How many bytes of the image parsePartitionTable needs (MBR, GPT header, 128 entries of 128 bytes). */
export const PARTITION_TABLE_BYTES = 34 * SECTOR;
const EXTENDED = new Set([0x05, 0x0f, 0x85]);

/** Partitions (without fs) from the first PARTITION_TABLE_BYTES of an image of `diskSize` bytes; [] when it has no table. */
export function parsePartitionTable(head: Buffer, diskSize: number): Omit<DiskPartition, 'fs'>[] {
  if (head.length < 2 * SECTOR || head.readUInt16LE(510) !== 0xaa55) return [];
  const mbr = [0, 1, 2, 3].map((i) => {
    const e = 446 + i * 16;
    return { index: i + 1, type: head[e + 4]!, start: head.readUInt32LE(e + 8) * SECTOR, size: head.readUInt32LE(e + 12) * SECTOR };
  });
  // A FAT/NTFS boot sector also ends in 55AA: its "entries" are not a table when a boot flag is not 0 or 0x80.
  if (mbr.some((_, i) => (head[446 + i * 16]! & 0x7f) !== 0)) return [];
  if (mbr.some((p) => p.type === 0xee)) return parseGpt(head, diskSize);
  // Logical partitions inside an extended one are not listed (a chain of EBRs further in the image).
  const out = mbr.filter((p) => p.type !== 0 && p.size > 0 && !EXTENDED.has(p.type)).map(({ index, start, size }) => ({ index, start, size }));
  for (const p of out) checkInside(p, diskSize);
  return out;
}

function parseGpt(head: Buffer, diskSize: number): Omit<DiskPartition, 'fs'>[] {
  const h = head.subarray(SECTOR, 2 * SECTOR);
  if (h.toString('latin1', 0, 8) !== 'EFI PART') throw invalid('the disk has a protective MBR but no GPT header at sector 1');
  const entriesLba = Number(h.readBigUInt64LE(72));
  const count = h.readUInt32LE(80);
  const size = h.readUInt32LE(84);
  if (size < 128 || count > 1024) throw invalid(`GPT header is implausible (${count} entries of ${size} bytes)`);
  const out: Omit<DiskPartition, 'fs'>[] = [];
  for (let i = 0; i < count; i++) {
    const at = entriesLba * SECTOR + i * size;
    if (at + size > head.length) throw invalid(`GPT entry ${i + 1} lies past the first ${head.length} bytes of the disk`);
    const e = head.subarray(at, at + size);
    if (e.subarray(0, 16).every((b) => b === 0)) continue; // unused entry
    const first = Number(e.readBigUInt64LE(32));
    const last = Number(e.readBigUInt64LE(40));
    if (last < first) throw invalid(`GPT entry ${i + 1} ends before it starts`);
    const p = { index: i + 1, start: first * SECTOR, size: (last - first + 1) * SECTOR };
    checkInside(p, diskSize);
    out.push(p);
  }
  return out;
}

function checkInside(p: { index: number; start: number; size: number }, diskSize: number): void {
  if (p.start < SECTOR || p.start + p.size > diskSize) throw invalid(`partition ${p.index} [${p.start}, +${p.size}) lies outside the ${diskSize}-byte disk`);
}

/** How many bytes of a partition detectFs needs. */
export const SUPERBLOCK_BYTES = 2048;

/** The filesystem whose superblock magic starts `buf` (the partition's first SUPERBLOCK_BYTES). */
export function detectFs(buf: Buffer): 'ext4' | 'xfs' | null {
  if (buf.length >= 4 && buf.toString('latin1', 0, 4) === 'XFSB') return 'xfs';
  if (buf.length >= 1024 + 58 && buf.readUInt16LE(1024 + 56) === 0xef53) return 'ext4';
  return null;
}
