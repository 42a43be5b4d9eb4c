/** Guest CPU architectures nimbo runs VMs for (uname -m spelling). */
export const GUEST_ARCHES = ['x86_64', 'aarch64', 'riscv64'] as const;
/** A guest CPU architecture. */
export type GuestArch = (typeof GUEST_ARCHES)[number];
/** The architecture of a VM, or of an image, that names none (everything made before arches existed). */
export const DEFAULT_ARCH: GuestArch = 'x86_64';

/** True when `s` is one of GUEST_ARCHES. */
export function isGuestArch(s: unknown): s is GuestArch {
  return typeof s === 'string' && (GUEST_ARCHES as readonly string[]).includes(s);
}

/** The host's CPU architecture in uname -m spelling (Node's process.arch mapped: x64 → x86_64, arm64 → aarch64). */
// process is reached through globalThis: the web panel imports these shared types and has no Node typings.
export function nativeArch(nodeArch: string = (globalThis as { process?: { arch: string } }).process?.arch ?? ''): string {
  return ({ x64: 'x86_64', arm64: 'aarch64', riscv64: 'riscv64' } as Record<string, string>)[nodeArch] ?? nodeArch;
}

/** Whether this host can run VMs of one architecture: natively, emulated (TCG), or not (what is missing, by Debian package). */
export interface ArchSupport {
  arch: GuestArch;
  native: boolean;
  /** Files or programs missing for it, each with the Debian package that has it; empty = it runs here. */
  missing: { what: string; pkg: string }[];
}
