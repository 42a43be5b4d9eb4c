import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { NimboError, invalid, notFound } from '../core/errors.js';
import type { VmBoot } from '../drivers/compute/types.js';
import { IMAGE_JSON, type BuildOptions, type BuiltImage } from './types.js';

const isStr = (v: unknown): v is string => typeof v === 'string' && v !== '';

function parseBoot(v: unknown, dir: string): VmBoot | undefined {
  const b = v as Record<string, unknown> | null;
  if (!b || typeof b !== 'object') return undefined;
  if (b.kind === 'disk') return { kind: 'disk' };
  if (b.kind === 'direct' && isStr(b.kernel) && typeof b.cmdline === 'string') {
    const boot: VmBoot = { kind: 'direct', kernel: join(dir, basename(b.kernel)), cmdline: b.cmdline };
    if (isStr(b.initrd)) boot.initrd = join(dir, basename(b.initrd));
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

/** A built-in image builder. */
export type ImageBuilder = (opts: BuildOptions) => Promise<BuiltImage>;

/** A host program a builder runs, and the Debian package that has it. */
export interface BuildNeed {
  program: string;
  pkg: string;
}

/** A built-in image: how it is built, what the build needs on the host, and its disk's virtual size. */
export interface BuiltinImage {
  description: string;
  build: ImageBuilder;
  /** Virtual size of the template disk (known before the build: a launch checks --disk against it). */
  diskBytes: number;
  /** Host programs the build runs (checked before a build starts, so a launch can say what is missing). */
  needs: readonly BuildNeed[];
  /** Whether the build copies the host kernel (/boot/vmlinuz-* with /lib/modules). */
  hostKernel: boolean;
}

const MiB = 1024 * 1024;
const need = (program: string, pkg: string): BuildNeed => ({ program, pkg });

/** The built-in builders by catalog name (loaded lazily). */
export const BUILDERS: Readonly<Record<string, BuiltinImage>> = {
  tiny: {
    description: 'busybox + dropbear on the host kernel, direct boot; ready in seconds',
    build: async (o) => (await import('./tiny.js')).buildTinyImage(o),
    diskBytes: 128 * MiB,
    needs: [need('busybox', 'busybox-static'), need('dropbear', 'dropbear-bin'), need('dropbearkey', 'dropbear-bin'),
      need('resize2fs', 'e2fsprogs'), need('mke2fs', 'e2fsprogs'), need('cpio', 'cpio'), need('modprobe', 'kmod'),
      need('ldd', 'libc-bin'), need('qemu-img', 'qemu-utils')],
    hostKernel: true,
  },
  'debian-12': {
    description: 'Debian 12 (bookworm) minbase with systemd, OpenSSH and GRUB; boots from disk',
    build: async (o) => (await import('./debian12.js')).buildDebian12Image(o),
    diskBytes: 2048 * MiB,
    needs: [need('debootstrap', 'debootstrap'), need('chroot', 'coreutils'), need('sfdisk', 'fdisk'), need('mke2fs', 'e2fsprogs'),
      need('dd', 'coreutils'), need('qemu-img', 'qemu-utils')],
    hostKernel: false,
  },
};

/** The names of the built-in images (what `launch` builds on demand). */
export const BUILTIN_NAMES: readonly string[] = Object.keys(BUILDERS);

/** The built-in image registered under name, or undefined. */
export function builtinImage(name: string): BuiltinImage | undefined {
  return Object.hasOwn(BUILDERS, name) ? BUILDERS[name] : undefined;
}

/** The builder registered under name; InvalidArgument listing the known names otherwise. */
export function getBuilder(name: string): ImageBuilder {
  const b = builtinImage(name);
  if (!b) throw invalid(`unknown built-in image ${JSON.stringify(name)} (known: ${BUILTIN_NAMES.join(', ')})`);
  return b.build;
}
