import type { HostExec } from '../host/exec.js';
import type { VmBoot } from '../drivers/compute/types.js';
import type { VmTemplateShape } from '../drivers/compute/instance-driver.js';
import type { OciImageConfig } from './oci/config.js';
import type { GuestArch } from '../shared/arch-types.js';

/** A guest image ready to boot, as recorded in `image.json` in its directory. */
export interface BuiltImage {
  /** Catalog name, e.g. `tiny`, `debian-12`, or the name given on import. */
  name: string;
  /** The image directory (holds image.json, the disk and, for direct boot, kernel + initrd). */
  dir: string;
  /** The template disk; VMs get a qcow2 overlay on top of it. */
  disk: string;
  format: 'qcow2' | 'raw';
  /** 'iso': an ISO 9660 image (an installer CD, `disk` is the .iso itself) for a VM's CD-ROM drive; absent = a disk image. */
  type?: 'disk' | 'iso';
  virtualSizeBytes: number;
  boot: VmBoot;
  /** Human-readable description of the OS inside. */
  os: string;
  /** A line prefix the guest prints on its serial console once SSH is up (`<marker> <hostname>`). */
  readyMarker?: string;
  /** The guest CPU architecture it was built for; absent = x86_64 (images from before arches, imports). */
  arch?: GuestArch;
  /** OCI application images only (no disk): the unpacked root tree and the image's process config. */
  oci?: { rootfs: string; config: OciImageConfig };
  /** A booted-VM template (`image snapshot --from-running`): its saved state and the hardware shape it needs. */
  template?: VmTemplateShape & { stateFile: string; source: string };
}

/** Progress callback of a long image action: pct in 0..100 and a short message. */
export type ProgressFn = (pct: number, msg: string) => void;

/** Options shared by the built-in image builders. */
export interface BuildOptions {
  exec: HostExec;
  /** Final image directory; written atomically (image.json appears last). */
  outDir: string;
  /** Host kernel version to use (`/boot/vmlinuz-KVER`); default: the newest one with modules. */
  kernelVersion?: string;
  progress?: ProgressFn;
  /** Rebuild even if outDir already holds a complete image. */
  force?: boolean;
}

/** The file name of an image's metadata inside its directory. */
export const IMAGE_JSON = 'image.json';
/** The file name of an image's template disk inside its directory. */
export const DISK_FILE = 'disk.qcow2';
/** The file name of an ISO image inside its directory. */
export const ISO_FILE = 'disk.iso';
/** The marker the built-in images print on ttyS0 when ready. */
export const READY_MARKER = 'NIMBO-READY';
