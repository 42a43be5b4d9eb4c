// argv for qemu-img, built as data. Every call names the format (-f / driver=), so a guest that
// writes a qcow2 header into a raw disk can never make nimbo follow a backing file of its choice.
// Paths given here are absolute, so they are never taken for options or protocols ("nbd:...").
import type { VolumeFormat } from './types.js';

/** A backing file of a new overlay: path relative to the overlay's directory, and its format. */
export interface Backing {
  file: string;
  format: VolumeFormat;
}

/** qemu-img create of a thin image (an overlay when backing is given). */
export function createArgv(file: string, format: VolumeFormat, sizeBytes?: number, backing?: Backing): string[] {
  const argv = ['qemu-img', 'create', '-q', '-f', format];
  if (backing) argv.push('-F', backing.format, '-b', backing.file);
  argv.push(file);
  if (sizeBytes !== undefined) argv.push(String(sizeBytes));
  return argv;
}

/** qemu-img info as JSON, format given (no probing) unless probe is set (only to compare with a claim). */
export function infoArgv(file: string, format?: VolumeFormat): string[] {
  return format ? ['qemu-img', 'info', '--output=json', '-f', format, file] : ['qemu-img', 'info', '--output=json', file];
}

/** Escape a value for QEMU's option syntax (a comma is doubled). */
export function qemuOptValue(v: string): string {
  return v.replace(/,/g, ',,');
}

/** qemu-img snapshot -c/-a/-d NAME on a qcow2 file, opened with explicit options (no probing). */
export function snapshotArgv(op: 'create' | 'apply' | 'delete', name: string, file: string): string[] {
  const flag = { create: '-c', apply: '-a', delete: '-d' }[op];
  return ['qemu-img', 'snapshot', '-q', '--image-opts', flag, name, `driver=qcow2,file.driver=file,file.filename=${qemuOptValue(file)}`];
}

/** qemu-img resize (grow only: --shrink is never passed, so qemu-img refuses shrinking too). */
export function resizeArgv(file: string, format: VolumeFormat, sizeBytes: number): string[] {
  return ['qemu-img', 'resize', '-q', '-f', format, file, String(sizeBytes)];
}

/** Options of convertArgv. */
export interface ConvertArgs {
  src: string;
  srcFormat: VolumeFormat;
  dst: string;
  dstFormat: VolumeFormat;
  /** Convert this internal snapshot of a qcow2 source instead of its current data. */
  snapshot?: string;
}

/** qemu-img convert (flattens any backing chain; raw output stays sparse). */
export function convertArgv(a: ConvertArgs): string[] {
  const argv = ['qemu-img', 'convert', '-p', '-f', a.srcFormat, '-O', a.dstFormat];
  if (a.snapshot !== undefined) argv.push('-l', `snapshot.name=${qemuOptValue(a.snapshot)}`);
  argv.push(a.src, a.dst);
  return argv;
}

/** qemu-img map of a qcow2 image (which clusters each layer of the chain holds). */
export function mapArgv(file: string): string[] {
  return ['qemu-img', 'map', '--output=json', '-f', 'qcow2', file];
}

/** One internal snapshot as qemu-img reports it. */
export interface ImgSnapshot {
  id: string;
  name: string;
  dateSec: number;
  vmStateSize: number;
}

/** What nimbo reads from `qemu-img info --output=json`. */
export interface ImgInfo {
  format: string;
  virtualSize: number;
  actualSize: number;
  backingFile?: string;
  dataFile?: string;
  encrypted: boolean;
  snapshots: ImgSnapshot[];
}

/** Parse `qemu-img info --output=json`. */
export function parseInfo(json: string): ImgInfo {
  const j = JSON.parse(json) as Record<string, unknown>;
  const data = (j['format-specific'] as { data?: Record<string, unknown> } | undefined)?.data ?? {};
  const snaps = Array.isArray(j.snapshots) ? (j.snapshots as Record<string, unknown>[]) : [];
  const info: ImgInfo = {
    format: String(j.format ?? ''),
    virtualSize: Number(j['virtual-size'] ?? 0),
    actualSize: Number(j['actual-size'] ?? 0),
    encrypted: j.encrypted === true,
    snapshots: snaps.map((s) => ({
      id: String(s.id ?? ''),
      name: String(s.name ?? ''),
      dateSec: Number(s['date-sec'] ?? 0),
      vmStateSize: Number(s['vm-state-size'] ?? 0),
    })),
  };
  if (typeof j['backing-filename'] === 'string') info.backingFile = j['backing-filename'];
  if (typeof data['data-file'] === 'string') info.dataFile = data['data-file'];
  return info;
}

/** Whether `qemu-img map` output shows data (or zero clusters) held by the top layer itself. */
export function topLayerHoldsData(mapJson: string): boolean {
  const entries = JSON.parse(mapJson) as { depth?: number; present?: boolean }[];
  return entries.some((e) => e.depth === 0 && e.present !== false);
}

/** The last percentage in `qemu-img convert -p` output ("    (42.17/100%)\r"), if any. */
export function parseConvertProgress(out: string): number | undefined {
  const last = [...out.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)].at(-1);
  return last ? Number(last[1]) : undefined;
}

/** Whether stderr says that another process (a running VM) holds the image lock. */
export function isLockError(stderr: string): boolean {
  return /Failed to get .*lock/i.test(stderr);
}
