import { isAbsolute, normalize } from 'node:path';
import { invalid } from '../../lib/errors.js';
import { formatSize, validateName } from '../../lib/validate.js';
import type { CloneOptions, PoolSpec, VolumeFormat, VolumeSpec } from './types.js';

/** Smallest block volume. */
export const MIN_VOLUME_BYTES = 1024 * 1024;
/** Largest block volume (qcow2 with 64 KiB clusters tops out near here too). */
export const MAX_VOLUME_BYTES = 64 * 1024 ** 4;
/** Disk sizes are whole 512-byte sectors. */
export const SECTOR = 512;

const FORMATS: readonly VolumeFormat[] = ['qcow2', 'raw'];

/** Check a volume name (a DNS label, so it is also a safe file name). */
export function volumeName(name: string): string {
  return validateName(name, 'volume name');
}

/** Check a snapshot name (a DNS label). */
export function snapshotName(name: string): string {
  return validateName(name, 'snapshot name');
}

/** Check a block format argument. */
export function volumeFormat(format: unknown, what = 'format'): VolumeFormat {
  if (!FORMATS.includes(format as VolumeFormat)) throw invalid(`${what} ${JSON.stringify(format)} is not valid: use qcow2 or raw`);
  return format as VolumeFormat;
}

/** Check a block volume size and round it up to whole sectors. */
export function blockSize(bytes: number, what = 'volume size'): number {
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw invalid(`${what} must be a positive whole number of bytes`);
  if (bytes < MIN_VOLUME_BYTES || bytes > MAX_VOLUME_BYTES) {
    throw invalid(`${what} ${formatSize(bytes)} is out of range: it must be between ${formatSize(MIN_VOLUME_BYTES)} and ${formatSize(MAX_VOLUME_BYTES)}`);
  }
  return Math.ceil(bytes / SECTOR) * SECTOR;
}

/** Check a filesystem volume quota (0 = none). */
export function quotaSize(bytes: number): number {
  if (bytes === 0) return 0;
  return blockSize(bytes, 'filesystem volume quota');
}

/** Check a VolumeSpec against the pool's format; returns it normalised. */
export function volumeSpec(spec: VolumeSpec, poolFormat: VolumeFormat, poolName: string): VolumeSpec {
  volumeName(spec.name);
  if (spec.kind !== 'block' && spec.kind !== 'filesystem') throw invalid(`volume kind ${JSON.stringify(spec.kind)} is not valid: use block or filesystem`);
  if (spec.kind === 'filesystem') {
    if (spec.format !== undefined) throw invalid('a filesystem volume has no format');
    return { name: spec.name, kind: 'filesystem', sizeBytes: quotaSize(spec.sizeBytes) };
  }
  const format = spec.format === undefined ? poolFormat : volumeFormat(spec.format);
  if (format !== poolFormat) throw invalid(`pool "${poolName}" stores ${poolFormat} volumes, not ${format}`);
  return { name: spec.name, kind: 'block', sizeBytes: blockSize(spec.sizeBytes), format };
}

/** Refuse shrinking with a message saying why (Infinity = a filesystem volume without a quota). */
export function checkGrow(name: string, current: number, wanted: number): void {
  const fmt = (n: number) => (n === Infinity ? 'no limit' : formatSize(n));
  if (wanted < current) {
    throw invalid(`shrinking volume "${name}" from ${fmt(current)} to ${fmt(wanted)} is refused: ` +
      'it would cut off the data at the end of the disk (and the filesystem on it); volumes can only grow');
  }
}

/** Check clone options. */
export function cloneOptions(opts: CloneOptions): CloneOptions {
  if (opts.mode !== 'linked' && opts.mode !== 'full') throw invalid(`clone mode ${JSON.stringify(opts.mode)} is not valid: use linked or full`);
  if (opts.fromSnapshot !== undefined) snapshotName(opts.fromSnapshot);
  return opts;
}

/** Check a pool spec's name and path (dir/btrfs: an absolute path that is not the root). */
export function poolSpec(spec: PoolSpec): PoolSpec {
  validateName(spec.name, 'pool name');
  if (typeof spec.path !== 'string' || !isAbsolute(spec.path)) throw invalid(`pool path ${JSON.stringify(spec.path)} must be an absolute directory`);
  const path = normalize(spec.path).replace(/\/+$/, '');
  if (path === '' || path === '/') throw invalid('pool path must not be the root directory');
  if (/[\0\n]/.test(path)) throw invalid('pool path contains a NUL or newline');
  const format = spec.options?.format ?? 'qcow2';
  volumeFormat(format, 'pool format');
  return { ...spec, path, options: { ...spec.options, format } };
}
