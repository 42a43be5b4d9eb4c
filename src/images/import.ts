import { chmod, open, rm, stat } from 'node:fs/promises';
import { DEFAULT_ARCH, type GuestArch } from '../shared/arch-types.js';
import { basename, join, resolve } from 'node:path';
import type { HostExec } from '../host/exec.js';
import { HostCommandError, NimboError, invalid } from '../lib/errors.js';
import { makeWorkDir, publishImage } from './publish.js';
import { DISK_FILE, type BuiltImage, type ProgressFn } from './types.js';
import { parseInfo, type ImgInfo } from '../drivers/storage/qemu-img.js';
import { importIso, isIso9660 } from './iso.js';

/** Options of importImage. */
export interface ImportOptions {
  exec: HostExec;
  /** A qcow2 or raw disk image on this host. */
  file: string;
  name: string;
  outDir: string;
  progress?: ProgressFn;
  /** The guest architecture the disk is for (default: x86_64, recorded as absent). */
  arch?: GuestArch;
}

/** What nimbo reads from `qemu-img info --output=json` (one parser for images and pools). */
export type DiskInfo = ImgInfo;
/** Parses `qemu-img info --output=json` output. */
export const parseQemuImgInfo = parseInfo;

/** Throws InvalidArgument unless the image is a self-contained, unencrypted qcow2 or raw disk. */
export function checkImportable(file: string, info: DiskInfo): 'qcow2' | 'raw' {
  if (info.format !== 'qcow2' && info.format !== 'raw') {
    throw invalid(`${file} is a ${info.format || 'unknown'} image; nimbo imports qcow2 or raw only ` +
      `(convert it first: qemu-img convert -O qcow2 ${basename(file)} out.qcow2)`);
  }
  // A backing or external data file would let an image read other files of this host.
  if (info.backingFile) throw invalid(`${file} has a backing file (${info.backingFile}); import a standalone image (qemu-img convert)`);
  if (info.dataFile) throw invalid(`${file} uses an external data file; import a standalone image`);
  if (info.encrypted) throw invalid(`${file} is encrypted; import an unencrypted image`);
  if (!(info.virtualSize > 0)) throw invalid(`${file} is empty`);
  return info.format;
}

/** The last percentage in `qemu-img convert -p` output ("    (42.17/100%)\r"), if any. */
export function parseConvertProgress(out: string): number | undefined {
  const all = [...out.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)];
  const last = all.at(-1);
  return last ? Number(last[1]) : undefined;
}

/** Whether the first sector ends with the boot signature 0x55 0xAA (MBR, or GPT's protective MBR). */
export async function hasBootSignature(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await fh.read(buf, 0, 2, 510);
    return bytesRead === 2 && buf[0] === 0x55 && buf[1] === 0xaa;
  } finally {
    await fh.close();
  }
}

const message = (e: unknown) => (e instanceof HostCommandError ? e.stderr.trim().split('\n').slice(-2).join(' | ') : String(e));

/**
 * Imports a qcow2 or raw file as `outDir/disk.qcow2` (always converted, so the image is
 * standalone and owned by nimbo). Boots from its disk. An ISO 9660 file becomes an image of type iso (iso.ts). Rejects anything else with
 * InvalidArgument and leaves no partial output behind.
 */
export async function importImage(opts: ImportOptions): Promise<BuiltImage> {
  const { exec } = opts;
  const progress = opts.progress ?? (() => {});
  const file = resolve(opts.file); // absolute, so it can never be taken for an option
  const st = await stat(file).catch(() => null);
  if (!st) throw invalid(`file ${file} does not exist`);
  if (!st.isFile()) throw invalid(`${file} is not a regular file`);
  // By content, not by name: an ISO 9660 image (an installer CD) is kept as it is, as an image of type iso.
  if (await isIso9660(file)) return importIso({ file, name: opts.name, outDir: opts.outDir, progress });
  progress(2, 'inspecting');
  const res = await exec.run(['qemu-img', 'info', '--output=json', file], { allowFailure: true });
  if (res.code !== 0) throw invalid(`${file} is not a readable disk image: ${res.stderr.trim().split('\n').at(-1) ?? ''}`);
  let info: DiskInfo;
  try {
    info = parseQemuImgInfo(res.stdout);
  } catch (e) {
    throw new NimboError('InvalidArgument', `${file}: unexpected qemu-img info output`, undefined, e);
  }
  const format = checkImportable(file, info);
  if (format === 'raw' && (st.size < 1024 * 1024 || st.size % 512 !== 0)) {
    throw invalid(`${file} does not look like a disk image (raw, ${st.size} bytes; expected whole 512-byte sectors, 1 MiB or more)`);
  }
  // qemu-img takes any bytes for raw; an image that boots from its disk needs a boot sector (MBR or GPT's protective MBR).
  if (format === 'raw' && !(await hasBootSignature(file))) {
    throw invalid(`${file} does not look like a bootable disk image (raw, no MBR/GPT boot signature 0x55AA in its first sector)`);
  }
  if (format === 'qcow2') {
    // Exit 2 = corrupted, 1 = check failed; 3 (leaked clusters) is harmless.
    const chk = await exec.run(['qemu-img', 'check', '-q', '-f', 'qcow2', file], { allowFailure: true, timeoutMs: 600_000 });
    if (chk.code === 1 || chk.code === 2) throw invalid(`${file} is a broken qcow2 image: ${(chk.stderr || chk.stdout).trim().split('\n').at(-1) ?? ''}`);
  }
  const outDir = resolve(opts.outDir);
  const work = await makeWorkDir(outDir);
  const target = join(work, DISK_FILE);
  const expected = Math.max(info.actualSize, 1);
  let live = true; // no late poll result after the final progress
  const timer = setInterval(() => {
    void stat(target).then(
      (s) => live && progress(5 + Math.min(89, Math.floor((s.size / expected) * 89)), 'converting'),
      () => {},
    );
  }, 1000);
  try {
    progress(5, `converting ${format} to qcow2`);
    const conv = await exec.run(['qemu-img', 'convert', '-p', '-f', format, '-O', 'qcow2', file, target], {
      timeoutMs: 6 * 3600_000,
    }).catch((e: unknown) => {
      throw new NimboError('InvalidArgument', `cannot import ${file}: ${message(e)}`, undefined, e);
    });
    clearInterval(timer);
    live = false;
    progress(5 + Math.floor(((parseConvertProgress(conv.stdout) ?? 100) / 100) * 90), 'converted');
    await chmod(target, 0o644);
    const image: BuiltImage = {
      name: opts.name,
      dir: outDir,
      disk: join(outDir, DISK_FILE),
      format: 'qcow2',
      virtualSizeBytes: info.virtualSize,
      boot: { kind: 'disk' },
      os: `imported from ${basename(file)} (${format})`,
      ...(opts.arch && opts.arch !== DEFAULT_ARCH ? { arch: opts.arch } : {}),
    };
    await publishImage(work, [DISK_FILE], image);
    progress(100, 'done');
    return image;
  } catch (e) {
    await rm(work, { recursive: true, force: true });
    throw e;
  } finally {
    clearInterval(timer);
    live = false;
  }
}
