// Per-architecture QEMU settings: which emulator, machine, CPU, video device and firmware a VM of each
// guest architecture gets, and what this host lacks to run it (by Debian package).
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { DEFAULT_ARCH, GUEST_ARCHES, nativeArch, type ArchSupport, type GuestArch } from '../../../shared/arch-types.js';
import type { Accelerator, VmBoot } from '../types.js';
import { firmwareArgs } from './firmware.js';

/** A firmware file QEMU loads, and the Debian package that ships it. */
export interface FirmwareFile {
  path: string;
  pkg: string;
}

/** How QEMU emulates one guest architecture. */
export interface ArchProfile {
  /** The emulator program, and its Debian package. */
  binary: string;
  binaryPkg: string;
  /** -machine (without the pflash properties nimbo adds for UEFI). */
  machine: string;
  /** -cpu per accelerator. */
  cpu: Record<Accelerator, string>;
  /** The guest kernel's serial console device (the first UART of the machine: -serial). */
  console: string;
  /** The display device (VNC shows it). */
  video: string;
  /** Loaded for every boot (-bios): riscv64's OpenSBI (M-mode firmware; Linux runs on top of it). */
  bios?: FirmwareFile;
  /** UEFI for disk boot: read-only code and the template of the per-VM variable store (pflash0, pflash1). */
  uefi?: { code: FirmwareFile; varsTemplate: FirmwareFile };
  /** Disk boot through a boot loader given as -kernel (riscv64: U-Boot, which reads the disk's extlinux/EFI). */
  diskLoader?: FirmwareFile;
}

/**
 * The table. x86_64 keeps q35 + SeaBIOS (QEMU's default). aarch64: `virt` with GICv3, `max` CPU (its
 * pointer authentication with QEMU's cheap implementation-defined algorithm: the architected one costs
 * TCG a lot), direct boot by QEMU's own loader, disk boot by AAVMF. riscv64: `virt` under OpenSBI.
 */
export const ARCH_PROFILES: Readonly<Record<GuestArch, ArchProfile>> = {
  x86_64: {
    binary: 'qemu-system-x86_64',
    binaryPkg: 'qemu-system-x86',
    machine: 'q35',
    cpu: { tcg: 'max', kvm: 'qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt' },
    console: 'ttyS0',
    video: 'VGA',
  },
  aarch64: {
    binary: 'qemu-system-aarch64',
    binaryPkg: 'qemu-system-arm',
    machine: 'virt,gic-version=max',
    cpu: { tcg: 'max,pauth-impdef=on', kvm: 'host' },
    console: 'ttyAMA0',
    video: 'virtio-gpu-pci',
    uefi: {
      code: { path: '/usr/share/AAVMF/AAVMF_CODE.fd', pkg: 'qemu-efi-aarch64' },
      varsTemplate: { path: '/usr/share/AAVMF/AAVMF_VARS.fd', pkg: 'qemu-efi-aarch64' },
    },
  },
  riscv64: {
    binary: 'qemu-system-riscv64',
    binaryPkg: 'qemu-system-misc',
    machine: 'virt',
    cpu: { tcg: 'rv64', kvm: 'host' },
    console: 'ttyS0',
    video: 'virtio-gpu-pci',
    bios: { path: '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin', pkg: 'opensbi' },
    diskLoader: { path: '/usr/lib/u-boot/qemu-riscv64_smode/uboot.elf', pkg: 'u-boot-qemu' },
  },
};

/** The profile of an architecture (x86_64 when none is named). */
export function archProfile(arch: GuestArch | undefined): ArchProfile {
  return ARCH_PROFILES[arch ?? DEFAULT_ARCH];
}

/** Emulator programs chosen by configuration instead of the profile's (name on PATH or absolute path). */
export type QemuBinaries = Partial<Record<GuestArch, string>>;

/** The emulator program of an architecture: the configured one, else the profile's. */
export function qemuBinaryFor(arch: GuestArch | undefined, binaries: QemuBinaries = {}): string {
  return binaries[arch ?? DEFAULT_ARCH] ?? archProfile(arch).binary;
}

/**
 * The machine-specific part of a VM's argv, in order: -machine value, -cpu value, the display device,
 * and what goes after the fixed devices (firmware, the disk boot loader).
 */
export function archMachineArgs(
  arch: GuestArch | undefined, accel: Accelerator, boot: VmBoot, uefiVars: string | undefined,
): { machine: string; cpu: string; video: string; firmware: string[] } {
  const p = archProfile(arch);
  const firmware: string[] = [];
  let machine = p.machine;
  if (p.bios) firmware.push('-bios', p.bios.path);
  if (boot.kind === 'disk' && p.uefi) {
    if (uefiVars === undefined) throw new Error(`a ${arch} disk boot needs its UEFI variable store`);
    // The same read-only code + per-VM vars pflash pair as x86's UEFI (firmware.ts).
    firmware.push(...firmwareArgs({ kind: 'uefi', code: p.uefi.code.path, vars: uefiVars, secureBoot: false }));
    machine += ',pflash0=fw-code,pflash1=fw-vars';
  }
  if (boot.kind === 'disk' && p.diskLoader) firmware.push('-kernel', p.diskLoader.path);
  return { machine, cpu: p.cpu[accel], video: p.video, firmware };
}

/** Whether `prog` (a name looked up on PATH, or a path) is an executable file. */
function executable(prog: string, path = process.env.PATH ?? '/usr/bin:/bin'): boolean {
  const candidates = prog.includes('/') ? [prog] : path.split(delimiter).filter(Boolean).map((d) => join(d, prog));
  return candidates.some((c) => {
    try {
      accessSync(c, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function readable(file: string): boolean {
  try {
    accessSync(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** Probes of the host, replaceable in unit tests. */
export interface ArchProbe {
  executable(prog: string): boolean;
  readable(file: string): boolean;
  native: string;
}

const HOST_PROBE: ArchProbe = { executable: (p) => executable(p), readable, native: nativeArch() };

/** What this host lacks to run VMs of `arch` (the emulator and every firmware file of its profile), by Debian package. */
export function archSupport(arch: GuestArch, binaries: QemuBinaries = {}, probe: ArchProbe = HOST_PROBE): ArchSupport {
  const p = archProfile(arch);
  const missing: ArchSupport['missing'] = [];
  const bin = qemuBinaryFor(arch, binaries);
  if (!probe.executable(bin)) missing.push({ what: `emulator ${bin}`, pkg: p.binaryPkg });
  const files = [p.bios, p.uefi?.code, p.uefi?.varsTemplate, p.diskLoader].filter((f): f is FirmwareFile => f !== undefined);
  for (const f of files) if (!probe.readable(f.path)) missing.push({ what: `firmware ${f.path}`, pkg: f.pkg });
  return { arch, native: probe.native === arch, missing };
}

/** archSupport of every guest architecture. */
export function allArchSupport(binaries: QemuBinaries = {}, probe: ArchProbe = HOST_PROBE): ArchSupport[] {
  return GUEST_ARCHES.map((a) => archSupport(a, binaries, probe));
}

/** One line saying what to install for `s` (empty when nothing is missing). */
export function missingMessage(s: ArchSupport): string {
  if (s.missing.length === 0) return '';
  const pkgs = [...new Set(s.missing.map((m) => m.pkg))];
  return `${s.arch} VMs need ${s.missing.map((m) => m.what).join(', ')}: apt-get install ${pkgs.join(' ')}`;
}
