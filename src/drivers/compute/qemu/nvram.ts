// Per-VM UEFI variable stores (NVRAM): each VM gets its own copy of the firmware's variable template,
// kept in its state dir, so boot entries and settings persist across restarts. Arch-neutral: aarch64's
// AAVMF_VARS.fd here; x86's OVMF_VARS.fd works the same way.
import { chmod, chown, copyFile, constants, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** File name of a VM's UEFI variable store inside its instance dir. */
export const UEFI_VARS_FILE = 'uefi-vars.fd';

/** Where a VM keeps its UEFI variable store (in its instance dir, which lives as long as the VM). */
export const uefiVarsPath = (instanceDir: string): string => join(instanceDir, UEFI_VARS_FILE);

/**
 * Ensure `target` exists as a per-VM copy of the variable-store `template` (never overwritten once
 * there: it holds the VM's variables). Owned by `owner` (the VM's QEMU uid) with mode 0600 when given.
 * Returns true when it was created now.
 */
export async function ensureVarsFile(template: string, target: string, owner?: { uid: number; gid: number }): Promise<boolean> {
  let created = false;
  if (!(await stat(target).catch(() => null))) {
    // COPYFILE_EXCL: two starts racing cannot both write it.
    created = await copyFile(template, target, constants.COPYFILE_EXCL).then(() => true, (e: NodeJS.ErrnoException) => {
      if (e.code === 'EEXIST') return false;
      throw e;
    });
  }
  if (owner) await chown(target, owner.uid, owner.gid);
  await chmod(target, 0o600);
  return created;
}
