import { invalid } from '../../lib/errors.js';

const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

/** Validate a Linux interface name (1-15 chars of A-Z a-z 0-9 _ . -, not starting with a symbol). */
export function validateIfName(name: string, what = 'interface name'): string {
  if (typeof name !== 'string' || !IFNAME.test(name)) {
    throw invalid(`${what} "${name}" is invalid: use 1-15 characters of letters, digits, "_", "." or "-", starting with a letter or digit`);
  }
  return name;
}
