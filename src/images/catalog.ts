/** The built-in images: how each is built, what its build needs on the host, and its disk size. */
import { invalid } from '../lib/errors.js';
import { DEBIAN_DISK_BYTES, TINY_DISK_BYTES } from './sizes.js';
import type { BuildOptions, BuiltImage } from './types.js';
import type { GuestArch } from '../shared/arch-types.js';

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
  /** The guest architecture it is built for (absent = x86_64). */
  arch?: GuestArch;
}

const need = (program: string, pkg: string): BuildNeed => ({ program, pkg });

/** The tiny image of another architecture: Debian's own packages of that architecture, downloaded and unpacked (never run). */
function foreignTiny(arch: Exclude<GuestArch, 'x86_64'>): BuiltinImage {
  return {
    description: `busybox + dropbear on Debian's ${arch} kernel (packages downloaded from the Debian mirror), direct boot under TCG`,
    build: async (o) => (await import('./tiny-foreign.js')).buildForeignTinyImage(arch, o),
    diskBytes: TINY_DISK_BYTES,
    needs: [need('dpkg-deb', 'dpkg'), need('gpgv', 'gpgv'), need('xz', 'xz-utils'), need('depmod', 'kmod'), need('busybox', 'busybox-static'),
      need('mke2fs', 'e2fsprogs'), need('cpio', 'cpio'), need('qemu-img', 'qemu-utils')],
    hostKernel: false,
    arch,
  };
}

/** The built-in builders by catalog name (loaded lazily). */
export const BUILDERS: Readonly<Record<string, BuiltinImage>> = {
  tiny: {
    description: 'busybox + dropbear + qemu-ga on the host kernel, direct boot; ready in seconds',
    build: async (o) => (await import('./tiny.js')).buildTinyImage(o),
    diskBytes: TINY_DISK_BYTES,
    needs: [need('busybox', 'busybox-static'), need('dropbear', 'dropbear-bin'), need('dropbearkey', 'dropbear-bin'),
      need('qemu-ga', 'qemu-guest-agent'), need('resize2fs', 'e2fsprogs'), need('mke2fs', 'e2fsprogs'), need('cpio', 'cpio'), need('modprobe', 'kmod'),
      need('ldd', 'libc-bin'), need('qemu-img', 'qemu-utils')],
    hostKernel: true,
  },
  'tiny-aarch64': foreignTiny('aarch64'),
  'tiny-riscv64': foreignTiny('riscv64'),
  'debian-12': {
    description: 'Debian 12 (bookworm) minbase with systemd, OpenSSH and GRUB; boots from disk',
    build: async (o) => (await import('./debian12.js')).buildDebian12Image(o),
    diskBytes: DEBIAN_DISK_BYTES,
    needs: [need('mmdebstrap', 'mmdebstrap'), need('chroot', 'coreutils'), need('sfdisk', 'fdisk'), need('mke2fs', 'e2fsprogs'),
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
