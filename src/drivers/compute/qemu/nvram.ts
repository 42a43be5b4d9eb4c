// A VM's UEFI variable store (NVRAM): one writable pflash file per VM, made once from the firmware's
// template (OVMF_VARS*.fd on x86, AAVMF_VARS.fd on aarch64) and kept in the VM's instance dir, so the
// guest's boot entries and Secure Boot state survive restarts. Arch-neutral: the caller names the template.
import { chmod, chown, copyFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { conflict } from '../../../lib/errors.js';

/** The vars file may hold secrets (keys a guest enrolled): its QEMU user's alone. */
export const NVRAM_MODE = 0o600;

/** A host owner (the VM's QEMU uid/gid). */
export interface FileOwner {
  uid: number;
  gid: number;
}

/** Path of the VM's vars file inside its state (instance) dir. */
export function nvramPath(stateDir: string): string {
  return join(stateDir, 'nvram.fd');
}

/** Copy `from` to `to` through a temp file beside `to` (a crash leaves no half-written vars file), owner and mode set. */
async function copyAtomic(from: string, to: string, owner: FileOwner | undefined): Promise<void> {
  const tmp = join(dirname(to), `.${randomBytes(4).toString('hex')}.nvram.tmp`);
  try {
    await copyFile(from, tmp);
    await chmod(tmp, NVRAM_MODE);
    if (owner) await chown(tmp, owner.uid, owner.gid);
    await rename(tmp, to);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * The VM's vars file at `path`, made from `template` when missing (an existing one is kept: it is the
 * guest's), then owned by `owner` with mode 0600. Returns whether it was made now.
 */
export async function ensureNvram(path: string, template: string, owner?: FileOwner): Promise<boolean> {
  const have = await stat(path).catch(() => undefined);
  if (have) {
    if (!have.isFile()) throw conflict(`${path} is not a file: cannot use it as the VM's UEFI variable store`);
    if (owner && (have.uid !== owner.uid || have.gid !== owner.gid)) await chown(path, owner.uid, owner.gid);
    if ((have.mode & 0o777) !== NVRAM_MODE) await chmod(path, NVRAM_MODE);
    return false;
  }
  await copyAtomic(template, path, owner);
  return true;
}

/** A clone's vars file: the source VM's copied to `to` (nothing when the source has none yet: the clone gets a fresh one at its first start). */
export async function copyNvram(from: string, to: string, owner?: FileOwner): Promise<boolean> {
  if (!(await stat(from).catch(() => undefined))) return false;
  await copyAtomic(from, to, owner);
  return true;
}
