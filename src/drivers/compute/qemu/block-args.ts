import { isAbsolute } from 'node:path';
import { conflict, invalid } from '../../../lib/errors.js';
import { diskDeviceId, diskNodeNames, HOTPLUG_PORTS } from './argv.js';

/** A disk to hot-plug into a running VM. */
export interface HotplugDisk {
  id: string;
  path: string;
  format: 'qcow2' | 'raw';
  readOnly?: boolean;
  /** I/O limits applied right after the device is added. */
  throttle?: ThrottleLimits;
  /** Root port to use (hotplug0..); default: the first free one. */
  port?: string;
}

/** Per-disk I/O limits; 0 (or absent) means unlimited. */
export interface ThrottleLimits {
  iops_rd?: number;
  iops_wr?: number;
  bps_rd?: number;
  bps_wr?: number;
}

/** QEMU's THROTTLE_VALUE_MAX: larger limits are refused. */
export const MAX_THROTTLE_VALUE = 1e15;
/** Largest disk size accepted by resize (QEMU's own limit is INT64_MAX; JS integers stop here). */
export const MAX_DISK_BYTES = Number.MAX_SAFE_INTEGER - (Number.MAX_SAFE_INTEGER % 512);

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Names of the empty hot-plug root ports that argv.ts creates. */
export const hotplugPorts = (): string[] => Array.from({ length: HOTPLUG_PORTS }, (_, i) => `hotplug${i}`);

/** QOM path of a disk's block-backend device (what block_set_io_throttle's `id` needs for virtio-blk-pci). */
export const diskBackendPath = (diskId: string): string => `/machine/peripheral/${diskDeviceId(diskId)}/virtio-backend`;

/** Disk id of a query-block `qdev` value (QOM path or qdev id), or undefined when it is not a nimbo disk. */
export function diskIdOfQdev(qdev: string): string | undefined {
  const m = /^(?:\/machine\/peripheral\/)?disk-([^/]+)(?:\/virtio-backend)?$/.exec(qdev);
  return m?.[1];
}

/** Throws InvalidArgument unless `spec` is a valid hot-plug disk. */
export function validateHotplugDisk(spec: HotplugDisk): void {
  if (!ID_RE.test(spec.id)) throw invalid(`invalid disk id: ${JSON.stringify(spec.id)}`);
  if (!isAbsolute(spec.path) || /[\0\n]/.test(spec.path)) throw invalid(`disk ${spec.id} path must be an absolute path: ${JSON.stringify(spec.path)}`);
  if (spec.format !== 'qcow2' && spec.format !== 'raw') throw invalid(`disk ${spec.id}: unknown format ${JSON.stringify(spec.format)}`);
  if (spec.port !== undefined && !hotplugPorts().includes(spec.port)) throw invalid(`unknown hot-plug port ${JSON.stringify(spec.port)} (have ${hotplugPorts().join(', ')})`);
  if (spec.throttle) throttleValues(spec.throttle);
}

/** blockdev-add arguments of a disk's protocol (file) node; same shape as argv.ts's -blockdev. */
export function fileNodeArgs(d: HotplugDisk): Record<string, unknown> {
  const ro = d.readOnly === true;
  return { driver: 'file', 'node-name': diskNodeNames(d.id).file, filename: d.path, 'read-only': ro, discard: 'unmap' };
}

/** blockdev-add arguments of a disk's format node (qcow2/raw) on top of its file node. */
export function formatNodeArgs(d: HotplugDisk): Record<string, unknown> {
  const n = diskNodeNames(d.id);
  return { driver: d.format, 'node-name': n.format, file: n.file, 'read-only': d.readOnly === true, discard: 'unmap' };
}

/** device_add arguments of a disk's virtio-blk-pci device on a hot-plug root port. */
export function deviceAddArgs(diskId: string, port: string): Record<string, unknown> {
  return { driver: 'virtio-blk-pci', id: diskDeviceId(diskId), drive: diskNodeNames(diskId).format, bus: port };
}

/** The four limits as validated integers (absent = 0 = unlimited). */
export function throttleValues(t: ThrottleLimits): Required<ThrottleLimits> {
  const out = { iops_rd: t.iops_rd ?? 0, iops_wr: t.iops_wr ?? 0, bps_rd: t.bps_rd ?? 0, bps_wr: t.bps_wr ?? 0 };
  for (const [k, v] of Object.entries(out)) {
    if (!Number.isInteger(v) || v < 0 || v > MAX_THROTTLE_VALUE) throw invalid(`throttle ${k} must be an integer 0-${MAX_THROTTLE_VALUE} (0 = unlimited), got ${v}`);
  }
  return out;
}

/** block_set_io_throttle arguments (all six limits are mandatory in QMP; totals stay 0). */
export function throttleArgs(diskId: string, t: ThrottleLimits): Record<string, unknown> {
  const v = throttleValues(t);
  return { id: diskBackendPath(diskId), bps: 0, bps_rd: v.bps_rd, bps_wr: v.bps_wr, iops: 0, iops_rd: v.iops_rd, iops_wr: v.iops_wr };
}

/** Checks a grow-only resize; returns false when the size is unchanged (nothing to do). */
export function checkResize(diskId: string, currentBytes: number, bytes: number): boolean {
  if (!Number.isInteger(bytes) || bytes <= 0 || bytes > MAX_DISK_BYTES || bytes % 512 !== 0) {
    throw invalid(`disk ${diskId}: size must be a positive multiple of 512 bytes, got ${bytes}`);
  }
  if (bytes < currentBytes) throw invalid(`disk ${diskId}: shrinking is refused (${currentBytes} → ${bytes} bytes); disks only grow online`);
  return bytes !== currentBytes;
}

/** block_resize arguments (on the format node, so qcow2 metadata grows with it). */
export const resizeArgs = (diskId: string, bytes: number): Record<string, unknown> => ({ 'node-name': diskNodeNames(diskId).format, size: bytes });

/** One entry of query-pci (only the fields used here). */
export interface PciDeviceInfo {
  qdev_id?: string;
  bus: number;
  slot: number;
  pci_bridge?: { devices?: PciDeviceInfo[] };
}

/** Root port → qdev ids of the devices behind it, for the hot-plug ports found in query-pci. */
export function hotplugPortUse(pci: { bus: number; devices: PciDeviceInfo[] }[]): Map<string, string[]> {
  const ports = new Set(hotplugPorts());
  const use = new Map<string, string[]>();
  const walk = (devs: PciDeviceInfo[]) => {
    for (const d of devs) {
      if (d.qdev_id && ports.has(d.qdev_id)) use.set(d.qdev_id, (d.pci_bridge?.devices ?? []).map((c) => c.qdev_id ?? ''));
      if (d.pci_bridge?.devices) walk(d.pci_bridge.devices);
    }
  };
  for (const b of pci) walk(b.devices);
  return use;
}

/** The port to hot-plug into: `wanted` if free, else the first free one; Conflict when none is. */
export function pickHotplugPort(use: Map<string, string[]>, wanted?: string): string {
  if (wanted !== undefined) {
    const devs = use.get(wanted);
    if (devs === undefined) throw conflict(`hot-plug port ${wanted} does not exist in this VM`);
    if (devs.length > 0) throw conflict(`hot-plug port ${wanted} is in use by ${devs.join(', ')}`);
    return wanted;
  }
  for (const [port, devs] of use) if (devs.length === 0) return port;
  throw conflict(`no free hot-plug port: all ${use.size} are in use (detach a disk first)`);
}
