import { diskIdOfQdev, type ThrottleLimits } from './block-args.js';

/** An internal (qcow2) snapshot as query-block reports it. */
export interface InternalSnapshot {
  /** The snapshot's name (nimbo's tag). */
  name: string;
  /** QEMU's numeric snapshot id inside this image. */
  snapshotId: string;
  /** Bytes of RAM/device state stored with it; 0 for a disk-only snapshot. */
  vmStateSize: number;
  /** When it was taken (host clock, seconds since the epoch). */
  dateSec: number;
  /** Guest clock at the time (nanoseconds since the VM started). */
  vmClockNs: number;
}

/** A disk attached to a running VM (one query-block entry with a medium). */
export interface AttachedDisk {
  /** nimbo disk id (from the `disk-<id>` device), or QEMU's own name for a foreign device. */
  id: string;
  /** query-block's `qdev`: QOM path or qdev id of the guest device. */
  qdev: string;
  /** Top (format) node name. */
  nodeName: string;
  /** Format driver of the top node: qcow2, raw, ... */
  format: string;
  path: string;
  readOnly: boolean;
  virtualSize: number;
  throttle: Required<ThrottleLimits>;
  /** Hot-plug root port it sits on; undefined when cold-plugged (fixed slot on pcie.0). */
  port?: string;
  /** Internal snapshots of the top image (qcow2 only). */
  snapshots: InternalSnapshot[];
}

interface RawSnapshot {
  id?: string;
  name?: string;
  'vm-state-size'?: number;
  'date-sec'?: number;
  'vm-clock-sec'?: number;
  'vm-clock-nsec'?: number;
}

/** One query-block entry (the fields used here). */
export interface BlockInfo {
  device?: string;
  qdev?: string;
  inserted?: {
    'node-name'?: string;
    drv?: string;
    file?: string;
    ro?: boolean;
    iops_rd?: number;
    iops_wr?: number;
    bps_rd?: number;
    bps_wr?: number;
    image?: { 'virtual-size'?: number; snapshots?: RawSnapshot[] };
  };
}

/** Turns query-block output (and the hot-plug port use from query-pci) into AttachedDisk entries. */
export function parseQueryBlock(blocks: BlockInfo[], portUse: Map<string, string[]> = new Map()): AttachedDisk[] {
  const portOf = new Map<string, string>();
  for (const [port, devs] of portUse) for (const d of devs) portOf.set(d, port);
  const out: AttachedDisk[] = [];
  for (const b of blocks) {
    const ins = b.inserted;
    if (!ins) continue; // an empty drive (e.g. CD-ROM without medium)
    const qdev = b.qdev ?? b.device ?? '';
    const id = diskIdOfQdev(qdev) ?? (b.device || qdev);
    out.push({
      id,
      qdev,
      nodeName: ins['node-name'] ?? '',
      format: ins.drv ?? '',
      path: ins.file ?? '',
      readOnly: ins.ro === true,
      virtualSize: ins.image?.['virtual-size'] ?? 0,
      throttle: { iops_rd: ins.iops_rd ?? 0, iops_wr: ins.iops_wr ?? 0, bps_rd: ins.bps_rd ?? 0, bps_wr: ins.bps_wr ?? 0 },
      port: portOf.get(`disk-${id}`),
      snapshots: (ins.image?.snapshots ?? []).map((s) => ({
        name: s.name ?? '',
        snapshotId: s.id ?? '',
        vmStateSize: s['vm-state-size'] ?? 0,
        dateSec: s['date-sec'] ?? 0,
        vmClockNs: (s['vm-clock-sec'] ?? 0) * 1e9 + (s['vm-clock-nsec'] ?? 0),
      })),
    });
  }
  return out;
}
