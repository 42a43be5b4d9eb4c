/** Reading, checking and publishing built image directories (image.json written last). */
import { isGuestArch } from '../shared/arch-types.js';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { NimboError, notFound } from '../lib/errors.js';
import type { VmBoot } from '../drivers/compute/types.js';
import { IMAGE_JSON, type BuiltImage } from './types.js';

const isStr = (v: unknown): v is string => typeof v === 'string' && v !== '';

function parseBoot(v: unknown, dir: string): VmBoot | undefined {
  const b = v as Record<string, unknown> | null;
  if (!b || typeof b !== 'object') return undefined;
  if (b.kind === 'disk') return { kind: 'disk' };
  if (b.kind === 'direct' && isStr(b.kernel) && typeof b.cmdline === 'string') {
    const boot: VmBoot = { kind: 'direct', kernel: join(dir, basename(b.kernel)), cmdline: b.cmdline };
    if (isStr(b.initrd)) boot.initrd = join(dir, basename(b.initrd));
    if (isStr(b.efiKernel)) boot.efiKernel = join(dir, basename(b.efiKernel));
    // A tiny image built before efiKernel was recorded: its bzImage sits beside the PVH vmlinux.
    else if (basename(b.kernel) === 'vmlinux' && existsSync(join(dir, 'vmlinuz'))) boot.efiKernel = join(dir, 'vmlinuz');
    return boot;
  }
  return undefined;
}

/** Reads `dir/image.json`; file paths are re-rooted to dir, so an image dir can be moved. */
export async function readBuiltImage(dir: string): Promise<BuiltImage> {
  const abs = resolve(dir);
  const text = await readFile(join(abs, IMAGE_JSON), 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw notFound(`image in ${abs}`);
    throw e;
  });
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new NimboError('Internal', `corrupt ${join(abs, IMAGE_JSON)}`, undefined, e);
  }
  const boot = parseBoot(raw.boot, abs);
  const size = raw.virtualSizeBytes;
  if (!isStr(raw.name) || !isStr(raw.disk) || !isStr(raw.os) || !boot || typeof size !== 'number' ||
      (raw.format !== 'qcow2' && raw.format !== 'raw')) {
    throw new NimboError('Internal', `malformed ${join(abs, IMAGE_JSON)}`);
  }
  const img: BuiltImage = {
    name: raw.name, dir: abs, disk: join(abs, basename(raw.disk)), format: raw.format,
    virtualSizeBytes: size, boot, os: raw.os,
  };
  if (isStr(raw.readyMarker)) img.readyMarker = raw.readyMarker;
  if (raw.type === 'iso') img.type = 'iso';
  if (isGuestArch(raw.arch)) img.arch = raw.arch;
  return img;
}

/** Writes `image.dir/image.json` atomically (temp file + rename). */
export async function writeBuiltImage(image: BuiltImage): Promise<void> {
  await mkdir(image.dir, { recursive: true });
  const target = join(image.dir, IMAGE_JSON);
  const tmp = `${target}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(image, null, 2) + '\n', { mode: 0o644 });
  await rename(tmp, target);
}

/** Returns the image in dir if image.json and every file it names exist; else undefined. */
export async function readCompleteImage(dir: string): Promise<BuiltImage | undefined> {
  const img = await readBuiltImage(dir).catch(() => undefined);
  if (!img) return undefined;
  const files = [img.disk, ...(img.boot.kind === 'direct' ? [img.boot.kernel, img.boot.initrd ?? img.disk] : [])];
  for (const f of files) if (!(await stat(f).catch(() => null))) return undefined;
  return img;
}

/** Makes a fresh work dir next to outDir (same filesystem, so the final renames are atomic). */
export async function makeWorkDir(outDir: string): Promise<string> {
  const abs = resolve(outDir);
  await mkdir(dirname(abs), { recursive: true });
  return mkdtemp(`${abs}.build-`);
}

/**
 * Moves `files` (base names) from workDir into image.dir, then writes image.json last, so a
 * dir with image.json is always complete. Removes workDir.
 */
export async function publishImage(workDir: string, files: string[], image: BuiltImage): Promise<BuiltImage> {
  await mkdir(image.dir, { recursive: true, mode: 0o755 });
  await rm(join(image.dir, IMAGE_JSON), { force: true });
  for (const f of files) await rename(join(workDir, f), join(image.dir, f));
  await writeBuiltImage(image);
  await rm(workDir, { recursive: true, force: true });
  return image;
}
