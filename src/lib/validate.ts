import { invalid } from './errors.js';

/** A DNS-label name: 1-63 chars, lower-case letters, digits and '-', starting with a letter. */
export const NAME_PATTERN = '^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$';

const NAME_RE = new RegExp(NAME_PATTERN);
const UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4, P: 1024 ** 5 };

/** Check a resource name is a DNS label; throws InvalidArgument saying what is wrong. */
export function validateName(name: string, what = 'name'): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw invalid(
      `${what} ${JSON.stringify(name)} is not valid: use 1-63 lower-case letters, digits and '-', starting with a letter and not ending with '-'`,
    );
  }
  return name;
}

/** Parse a size ("512MiB", "2G", "1.5GiB", 1048576) into bytes; units are binary (K = KiB = KB = 1024). */
export function parseSize(input: string | number, what = 'size'): number {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input <= 0) throw invalid(`${what} must be a positive whole number of bytes`);
    return input;
  }
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGTP]?)(?:i?B)?\s*$/i.exec(input);
  if (!m) throw invalid(`${what} ${JSON.stringify(input)} is not a size: use a number with an optional unit, e.g. 512MiB or 2G`);
  const bytes = Math.round(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw invalid(`${what} ${JSON.stringify(input)} is out of range`);
  return bytes;
}

/** Parse a size and check it lies within [min, max] bytes. */
export function parseBoundedSize(input: string | number, min: number, max: number, what: string): number {
  const bytes = parseSize(input, what);
  if (bytes < min || bytes > max) {
    throw invalid(`${what} ${formatSize(bytes)} is out of range: it must be between ${formatSize(min)} and ${formatSize(max)}`);
  }
  return bytes;
}

/** Format bytes with a binary unit (e.g. 512MiB, 1.5GiB). */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const s = Number.isInteger(v) ? String(v) : v.toFixed(1).replace(/\.0$/, '');
  return `${s}${units[i]}`;
}
