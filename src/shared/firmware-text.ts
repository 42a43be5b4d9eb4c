import type { Instance } from './api-types.js';

/**
 * A VM's firmware in words, for `nimbo info` and the panel: "UEFI, Secure Boot, TPM 2.0", "BIOS"; on the
 * `virt` machines the arch's own boot path (a direct kernel boot there runs no firmware). None recorded
 * (a container, an older VM): undefined.
 */
export function firmwareText(i: Pick<Instance, 'firmware' | 'arch'>): string | undefined {
  const f = i.firmware;
  if (!f) return undefined;
  const base = i.arch === 'aarch64' ? 'AAVMF UEFI for disk boots, none for a direct kernel boot'
    : i.arch === 'riscv64' ? 'OpenSBI (with U-Boot for disk boots)'
    : f.type === 'uefi' ? 'UEFI' : 'BIOS';
  return [base, ...(f.secureBoot ? ['Secure Boot'] : []), ...(f.tpm ? ['TPM 2.0'] : [])].join(', ');
}
