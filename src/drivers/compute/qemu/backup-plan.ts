// Pure decisions of a VM block backup: which disks, their node names, and whether a disk's base
// dirty bitmap can be trusted for an incremental (else a full read, with the reason).
import { conflict, invalid } from '../../../lib/errors.js';
import type { BlockBackupRequest } from '../../../shared/backup-source.js';
import type { InstanceSpec } from '../instance-driver.js';
import { diskNodeNames } from './argv.js';
import { volumeDiskId } from './instance-ops.js';

/** A disk of the VM as the backup sees it. */
export interface BackupDisk {
  /** 'root' or 'POOL/VOLUME' (the DiskBackupSource id). */
  id: string;
  path: string;
  format: 'qcow2' | 'raw';
  /** The disk's format node (where its bitmaps live). */
  node: string;
  /** The temporary fleecing node, its block job and its NBD export (all the same short tag). */
  fleeceNode: string;
  job: string;
  exportName: string;
}

/** One dirty bitmap as QEMU (query-named-block-nodes) or qemu-img info reports it. */
export interface BitmapState {
  name: string;
  /** Enabled: it records writes (qemu-img: flag "auto"). */
  recording: boolean;
  /** Not saved cleanly (QEMU killed): qemu-img flag "in-use" of a stopped image, QMP "inconsistent". */
  inconsistent: boolean;
}

/** What to do with one disk. */
export interface DiskPlan {
  mode: 'full' | 'incremental';
  reason?: string;
  /** The base bitmap an incremental reads (exported as qemu:dirty-bitmap:BASE). */
  base?: string;
  /** Bitmaps merged into the base first (a disabled base left by an interrupted backup: the changes since are in these). */
  merge: string[];
  /** Untrustworthy bitmaps of this datastore removed before the backup. */
  remove: string[];
  /** Whether the disk gets the new persistent bitmap (qcow2 only). */
  addNew: boolean;
}

const BITMAP_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,200}$/;

/** Throws InvalidArgument unless the request's bitmap names are safe to hand to QEMU and qemu-img. */
export function checkBackupRequest(req: BlockBackupRequest): void {
  for (const n of [req.newBitmap, ...Object.values(req.baseBitmaps)]) {
    if (!BITMAP_RE.test(n)) throw invalid(`invalid bitmap name ${JSON.stringify(n)}`);
  }
  if (!BITMAP_RE.test(req.bitmapPrefix) || !req.newBitmap.startsWith(req.bitmapPrefix)) throw invalid(`bitmap prefix ${JSON.stringify(req.bitmapPrefix)} must be a safe name that starts the new bitmap ${req.newBitmap}`);
}

/** The root disk, then every attached block volume (filesystem volumes have no format and are not disks). */
export function backupDisks(spec: Pick<InstanceSpec, 'root' | 'volumes'>): BackupDisk[] {
  const disks = [{ id: 'root', diskId: 'root', path: spec.root.path, format: spec.root.format ?? 'raw' }];
  for (const v of spec.volumes) if (v.format) disks.push({ id: `${v.pool}/${v.volume}`, diskId: volumeDiskId(v.pool, v.volume), path: v.path, format: v.format });
  return disks.map((d) => {
    const node = diskNodeNames(d.diskId).format;
    const tag = node.slice(2); // node names are d-TAG, at most 31 characters
    return { id: d.id, path: d.path, format: d.format, node, fleeceNode: `fl-${tag}`, job: `bk-${tag}`, exportName: `fl-${tag}` };
  });
}

/** Decide full or incremental for one disk from its bitmaps. */
export function planDisk(disk: Pick<BackupDisk, 'id' | 'format'>, bitmaps: BitmapState[], req: BlockBackupRequest): DiskPlan {
  const baseName = req.baseBitmaps[disk.id];
  const mine = bitmaps.filter((b) => b.name.startsWith(req.bitmapPrefix));
  if (disk.format !== 'qcow2') {
    return { mode: 'full', merge: [], remove: [], addNew: false, ...(baseName ? { reason: `disk ${disk.id} is raw: it keeps no dirty bitmap, so it is read whole` } : {}) };
  }
  if (bitmaps.some((b) => b.name === req.newBitmap)) throw conflict(`disk ${disk.id} already has a bitmap ${req.newBitmap}`);
  // Broken bitmaps of this datastore are worth nothing: drop them whatever happens.
  const remove = mine.filter((b) => b.inconsistent).map((b) => b.name);
  const full = (reason?: string): DiskPlan => ({ mode: 'full', merge: [], remove, addNew: true, ...(reason ? { reason } : {}) });
  if (!baseName) return full();
  const base = bitmaps.find((b) => b.name === baseName);
  if (!base) return full(`bitmap ${baseName} is missing on disk ${disk.id} (image replaced or restored?): reading it whole`);
  if (base.inconsistent) {
    if (!remove.includes(baseName)) remove.push(baseName);
    return full(`bitmap ${baseName} on disk ${disk.id} is inconsistent (QEMU did not close the image cleanly, e.g. it was killed): reading it whole`);
  }
  if (base.recording) return { mode: 'incremental', base: baseName, merge: [], remove, addNew: true };
  // Disabled: an interrupted backup froze it; the writes since are in the bitmaps that backup started.
  const merge = mine.filter((b) => b.name !== baseName && !b.inconsistent).map((b) => b.name);
  if (merge.length === 0 || remove.length > 0) return full(`bitmap ${baseName} on disk ${disk.id} stopped recording and the changes since are not all tracked: reading it whole`);
  return { mode: 'incremental', base: baseName, merge, remove, addNew: true };
}

/** Bitmaps of one image from `qemu-img info --output=json` (flags: "auto" = enabled, "in-use" = not saved cleanly). */
export function bitmapsOfImageInfo(info: unknown): BitmapState[] {
  const fs = (info as { 'format-specific'?: { type?: string; data?: { bitmaps?: { name: string; flags?: string[] }[] } } })['format-specific'];
  return (fs?.data?.bitmaps ?? []).map((b) => ({ name: b.name, recording: (b.flags ?? []).includes('auto'), inconsistent: (b.flags ?? []).includes('in-use') }));
}

/** Bitmaps of one node from query-named-block-nodes (flat). */
export function bitmapsOfNode(nodes: unknown, node: string): { bitmaps: BitmapState[]; size: number } | undefined {
  const n = (nodes as { 'node-name'?: string; image?: { 'virtual-size'?: number }; 'dirty-bitmaps'?: { name: string; recording?: boolean; inconsistent?: boolean }[] }[]).find((x) => x['node-name'] === node);
  if (!n) return undefined;
  const bitmaps = (n['dirty-bitmaps'] ?? []).map((b) => ({ name: b.name, recording: b.recording !== false, inconsistent: b.inconsistent === true }));
  return { bitmaps, size: n.image?.['virtual-size'] ?? 0 };
}

/** Stale bitmaps of this datastore that finish(true) removes: every one with the prefix but the new one. */
export function staleBitmaps(bitmaps: BitmapState[], req: BlockBackupRequest): string[] {
  return bitmaps.filter((b) => b.name.startsWith(req.bitmapPrefix) && b.name !== req.newBitmap).map((b) => b.name);
}
