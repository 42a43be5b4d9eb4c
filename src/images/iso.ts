// ISO 9660 images (installer CDs): recognised by their content, never by their name, and kept as they
// are (a CD is read-only: no conversion, no qcow2). A VM gets one in its CD-ROM drive (launch --iso).
import { chmod, copyFile, open, rm, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { makeWorkDir, publishImage } from './publish.js';
import { ISO_FILE, type BuiltImage, type ProgressFn } from './types.js';

/** Where an ISO 9660 primary volume descriptor's "CD001" identifier sits (sector 16, byte 1; ECMA-119 8.1). */
export const ISO9660_MAGIC_OFFSET = 0x8001;
const MAGIC = Buffer.from('CD001', 'ascii');
/** The volume identifier: 32 a-characters at byte 40 of the primary volume descriptor (ECMA-119 8.4.6). */
const VOLUME_ID_OFFSET = 0x8028;

/** Whether `head` (the file's first 0x8006+ bytes, or the 5 bytes at 0x8001) holds the ISO 9660 identifier. Pure. */
export function isIso9660Magic(bytesAt8001: Buffer): boolean {
  return bytesAt8001.length >= MAGIC.length && bytesAt8001.subarray(0, MAGIC.length).equals(MAGIC);
}

/** Whether the file is an ISO 9660 image ("CD001" at offset 0x8001). */
export async function isIso9660(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(MAGIC.length);
    const { bytesRead } = await fh.read(buf, 0, buf.length, ISO9660_MAGIC_OFFSET);
    return bytesRead === buf.length && isIso9660Magic(buf);
  } finally {
    await fh.close();
  }
}

/** The volume identifier of an ISO 9660 image (trailing blanks trimmed; '' when unreadable). */
export async function isoVolumeId(file: string): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(32);
    const { bytesRead } = await fh.read(buf, 0, 32, VOLUME_ID_OFFSET);
    return buf.subarray(0, bytesRead).toString('latin1').replace(/[^\x20-\x7e]/g, '').trim();
  } finally {
    await fh.close();
  }
}

/** Options of importIso. */
export interface IsoImportOptions {
  /** An ISO 9660 file on this host (checked by the caller with isIso9660). */
  file: string;
  name: string;
  outDir: string;
  progress?: ProgressFn;
}

/** Copies an ISO 9660 file as `outDir/disk.iso` (mode 0644: a VM's QEMU opens it after dropping privileges); an image of type iso. */
export async function importIso(opts: IsoImportOptions): Promise<BuiltImage> {
  const progress = opts.progress ?? (() => {});
  const file = resolve(opts.file);
  const st = await stat(file);
  const volumeId = await isoVolumeId(file);
  const outDir = resolve(opts.outDir);
  const work = await makeWorkDir(outDir);
  try {
    progress(5, 'copying the ISO image');
    await copyFile(file, join(work, ISO_FILE));
    await chmod(join(work, ISO_FILE), 0o644);
    const image: BuiltImage = {
      name: opts.name,
      dir: outDir,
      disk: join(outDir, ISO_FILE),
      format: 'raw',
      type: 'iso',
      virtualSizeBytes: st.size,
      boot: { kind: 'disk' },
      os: `ISO 9660${volumeId ? ` "${volumeId}"` : ''} from ${basename(file)}`,
    };
    await publishImage(work, [ISO_FILE], image);
    progress(100, 'done');
    return image;
  } catch (e) {
    await rm(work, { recursive: true, force: true });
    throw e;
  }
}
