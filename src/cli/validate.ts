/** Early argument checks with clear messages (the server stays the authority). */
import { InvalidArgumentError } from 'commander';
// The plain constants, not the TypeBox schemas: the same patterns as the daemon's, without loading TypeBox.
import { NAME_PATTERN, SIZE_PATTERN } from '../shared/api-constants.js';

const NAME_RE = new RegExp(NAME_PATTERN);
const SIZE_RE = new RegExp(SIZE_PATTERN);
const MULT: Record<string, number> = { '': 1, B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40, P: 2 ** 50 };

/** Check a DNS-label name (instance or image); returns it or throws a commander usage error. */
export function parseName(value: string, what = 'name'): string {
  if (!NAME_RE.test(value)) {
    throw new InvalidArgumentError(`invalid ${what} "${value}": use 1-63 lower-case letters, digits and '-', starting with a letter`);
  }
  return value;
}

/** Approximate bytes of a size string ("512MiB", "2G", "1048576"); NaN when it is not a size. */
export function sizeToBytes(value: string): number {
  const s = value.trim();
  if (!SIZE_RE.test(s)) return NaN;
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([KMGTP]?)/.exec(s);
  if (!m) return NaN;
  return Number(m[1]) * (MULT[m[2] ?? ''] ?? 1);
}

/** Check a size option; a bare number under 1MiB is refused since it almost surely lacks a unit. */
export function parseSize(value: string, what = 'size'): string {
  const bytes = sizeToBytes(value);
  if (Number.isNaN(bytes) || bytes <= 0) {
    throw new InvalidArgumentError(`invalid ${what} "${value}": use a number with a unit, e.g. 512MiB, 2G or 10GiB`);
  }
  if (/^[0-9.]+\s*B?$/.test(value.trim()) && bytes < 2 ** 20) {
    throw new InvalidArgumentError(`${what} "${value}" is only ${value.trim().replace(/\s*B$/, '')} bytes; add a unit, e.g. ${value.trim().replace(/\s*B$/, '')}MiB`);
  }
  return value.trim();
}

/** Make a commander parser for an integer between min and max. */
export function intInRange(what: string, min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^[0-9]+$/.test(value.trim()) || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${what} must be a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

/** Commander collector for repeatable options. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
