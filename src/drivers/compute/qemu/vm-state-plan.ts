import { conflict, invalid, notFound } from '../../../lib/errors.js';
import type { AttachedDisk } from './block-info.js';

/** The disks (and nodes) one stateful snapshot job covers. */
export interface VmStatePlan {
  /** Disk whose qcow2 image holds the RAM/device state. */
  vmstateDisk: string;
  vmstateNode: string;
  /** Every disk whose image gets (or has) the internal snapshot, vmstateDisk included. */
  disks: string[];
  nodes: string[];
}

/** A stateful snapshot as found on the VM's disks. */
export interface VmStateInfo {
  tag: string;
  /** Disk holding the RAM state; undefined for a disk-only internal snapshot. */
  vmstateDisk?: string;
  vmStateSize: number;
  disks: string[];
  dateSec: number;
}

const TAG_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** Throws InvalidArgument unless `tag` is a usable snapshot name (all-digit names clash with QEMU's snapshot ids). */
export function validateSnapshotTag(tag: string): void {
  if (!TAG_RE.test(tag) || /^\d+$/.test(tag)) {
    throw invalid(`invalid snapshot name ${JSON.stringify(tag)}: 1-128 of letters, digits, _ . : - starting with a letter or digit, not all digits`);
  }
}

/** Writable disks, refusing any that is not qcow2 (only qcow2 keeps internal snapshots). */
function writableQcow2(disks: AttachedDisk[], action: string): AttachedDisk[] {
  const writable = disks.filter((d) => !d.readOnly);
  const other = writable.filter((d) => d.format !== 'qcow2');
  if (other.length > 0) {
    const list = other.map((d) => `${d.id} (${d.format})`).join(', ');
    throw conflict(
      `stateful snapshot ${action} refused: writable disk ${list} is not qcow2. Only qcow2 images keep internal ` +
        `snapshots; a raw disk would keep its current contents under the restored RAM and corrupt the guest's ` +
        `filesystems. Detach it, attach it read-only, or convert it to qcow2.`,
    );
  }
  return writable;
}

const plan = (vm: AttachedDisk, all: AttachedDisk[]): VmStatePlan => ({
  vmstateDisk: vm.id,
  vmstateNode: vm.nodeName,
  disks: all.map((d) => d.id),
  nodes: all.map((d) => d.nodeName),
});

/** What snapshot-save covers: all writable qcow2 disks; the RAM state goes to `vmstateDisk` (default: the first). */
export function planVmStateSave(disks: AttachedDisk[], tag: string, vmstateDisk?: string): VmStatePlan {
  validateSnapshotTag(tag);
  const writable = writableQcow2(disks, 'save');
  if (writable.length === 0) throw conflict('stateful snapshot refused: the VM has no writable qcow2 disk to hold its RAM state');
  const taken = writable.filter((d) => d.snapshots.some((s) => s.name === tag));
  if (taken.length > 0) throw conflict(`snapshot ${tag} already exists on disk ${taken.map((d) => d.id).join(', ')}`);
  const vm = vmstateDisk === undefined ? writable[0]! : writable.find((d) => d.id === vmstateDisk);
  if (!vm) throw invalid(`vmstate disk ${vmstateDisk} is not a writable qcow2 disk of this VM`);
  return plan(vm, writable);
}

/**
 * What snapshot-load covers. Refuses when a writable disk lacks the snapshot (attached after it
 * was taken: it would not roll back with the RAM), or when `expectDisks` (the disks recorded at
 * save time) differ from the writable disks attached now.
 */
export function planVmStateLoad(disks: AttachedDisk[], tag: string, expectDisks?: string[]): VmStatePlan {
  validateSnapshotTag(tag);
  const writable = writableQcow2(disks, 'restore');
  const holders = writable.filter((d) => d.snapshots.some((s) => s.name === tag));
  const vm = holders.find((d) => d.snapshots.some((s) => s.name === tag && s.vmStateSize > 0));
  if (!vm) {
    if (holders.length > 0) throw conflict(`snapshot ${tag} has no RAM state (a disk-only snapshot): cannot restore a running VM from it`);
    throw notFound(`stateful snapshot ${tag}`);
  }
  const missing = writable.filter((d) => !holders.includes(d)).map((d) => d.id);
  if (missing.length > 0) {
    throw conflict(`disk ${missing.join(', ')} has no snapshot ${tag} (attached after it was taken?): detach it before restoring`);
  }
  if (expectDisks !== undefined) {
    const now = writable.map((d) => d.id).sort();
    const want = [...expectDisks].sort();
    if (now.join('\0') !== want.join('\0')) {
      throw conflict(`snapshot ${tag} was taken with disks [${want.join(', ')}] but [${now.join(', ')}] are attached: the VM's devices must match`);
    }
  }
  return plan(vm, holders);
}

/** What snapshot-delete covers: every writable qcow2 disk that has the snapshot (NotFound if none). */
export function planVmStateDelete(disks: AttachedDisk[], tag: string): VmStatePlan {
  validateSnapshotTag(tag);
  const holders = disks.filter((d) => !d.readOnly && d.format === 'qcow2' && d.snapshots.some((s) => s.name === tag));
  if (holders.length === 0) throw notFound(`snapshot ${tag}`);
  const vm = holders.find((d) => d.snapshots.some((s) => s.name === tag && s.vmStateSize > 0)) ?? holders[0]!;
  return plan(vm, holders);
}

/** snapshot-save arguments (QEMU needs the vmstate node among `devices`). */
export const snapshotSaveArgs = (jobId: string, tag: string, p: VmStatePlan): Record<string, unknown> => ({
  'job-id': jobId, tag, vmstate: p.vmstateNode, devices: p.nodes,
});

/** snapshot-load arguments. */
export const snapshotLoadArgs = (jobId: string, tag: string, p: VmStatePlan): Record<string, unknown> => ({
  'job-id': jobId, tag, vmstate: p.vmstateNode, devices: p.nodes,
});

/** snapshot-delete arguments. */
export const snapshotDeleteArgs = (jobId: string, tag: string, p: VmStatePlan): Record<string, unknown> => ({
  'job-id': jobId, tag, devices: p.nodes,
});

/** The internal snapshots found on the writable qcow2 disks, grouped by name (oldest first). */
export function collectVmStates(disks: AttachedDisk[]): VmStateInfo[] {
  const byTag = new Map<string, VmStateInfo>();
  for (const d of disks) {
    if (d.readOnly || d.format !== 'qcow2') continue;
    for (const s of d.snapshots) {
      const info = byTag.get(s.name) ?? { tag: s.name, vmStateSize: 0, disks: [], dateSec: s.dateSec };
      info.disks.push(d.id);
      if (s.vmStateSize > 0) {
        info.vmstateDisk = d.id;
        info.vmStateSize = s.vmStateSize;
      }
      info.dateSec = Math.min(info.dateSec, s.dateSec);
      byTag.set(s.name, info);
    }
  }
  return [...byTag.values()].sort((a, b) => a.dateSec - b.dateSec || a.tag.localeCompare(b.tag));
}
