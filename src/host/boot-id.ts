import { readFile } from 'node:fs/promises';

/** The kernel's id of this host boot: changes at every reboot (the reconciler's host-boot detection). */
export async function readBootId(file = '/proc/sys/kernel/random/boot_id'): Promise<string> {
  return (await readFile(file, 'utf8')).trim();
}
