// Reads the few qcow2 header fields nimbo needs without spawning qemu-img: listing a pool with
// many volumes and reference-counting shared bases stays cheap.
// Layout: https://gitlab.com/qemu-project/qemu/-/blob/master/docs/interop/qcow2.txt ("Header").
import { open } from 'node:fs/promises';

const MAGIC = 0x514649fb; // "QFI\xfb"

/** The header fields nimbo uses. */
export interface Qcow2Header {
  version: number;
  virtualSize: number;
  /** Backing file name as stored (nimbo stores names relative to the image's directory). */
  backingFile?: string;
  snapshots: number;
}

/** Parse the first bytes of a qcow2 file (at least 72); the backing name is read separately. */
export function parseQcow2Header(buf: Buffer): { version: number; virtualSize: number; backingOffset: number; backingSize: number; snapshots: number } {
  if (buf.length < 72 || buf.readUInt32BE(0) !== MAGIC) throw new Error('not a qcow2 image');
  const virtualSize = buf.readBigUInt64BE(24);
  if (virtualSize > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('qcow2 virtual size out of range');
  return {
    version: buf.readUInt32BE(4),
    virtualSize: Number(virtualSize),
    backingOffset: Number(buf.readBigUInt64BE(8)),
    backingSize: buf.readUInt32BE(16),
    snapshots: buf.readUInt32BE(60),
  };
}

/** Read a qcow2 file's header (size, backing file name, snapshot count). */
export async function readQcow2Header(file: string): Promise<Qcow2Header> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(104);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const h = parseQcow2Header(buf.subarray(0, bytesRead));
    const out: Qcow2Header = { version: h.version, virtualSize: h.virtualSize, snapshots: h.snapshots };
    if (h.backingOffset > 0 && h.backingSize > 0 && h.backingSize <= 1023) {
      const name = Buffer.alloc(h.backingSize);
      await fh.read(name, 0, h.backingSize, h.backingOffset);
      out.backingFile = name.toString('utf8');
    }
    return out;
  } finally {
    await fh.close();
  }
}
