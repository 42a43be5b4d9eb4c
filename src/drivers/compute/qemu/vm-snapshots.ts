// Instance snapshots of VMs: qcow2 internal snapshots (one tag) of the root disk and every attached
// volume. A running VM is saved through QEMU: a stateful snapshot with snapshot-save (RAM too, it
// pauses meanwhile), a disk-only one with one transaction of internal snapshots while its guest
// agent holds the filesystems frozen (application-consistent; crash-consistent without an agent).
// A stopped VM is snapshotted image by image with qemu-img.
import type { HostExec } from '../../../host/exec.js';
import { conflict } from '../../../lib/errors.js';
import type { InstanceSpec, SnapshotData } from '../instance-driver.js';
import type { QemuDriver } from './driver.js';
import { listDisks } from './block-ops.js';
import type { FrozenResult } from './guest-freeze.js';
import { planVmStateSave } from './vm-state-plan.js';
import { deleteVmState, loadVmState, saveVmState } from './vm-state.js';

/** The images a snapshot covers: the root disk, then each attached volume; Conflict (today's messages) for a raw one. */
export function snapshotDisks(spec: Pick<InstanceSpec, 'name' | 'root' | 'volumes'>): { id: string; path: string }[] {
  const rootFormat = spec.root.format ?? 'raw';
  if (rootFormat !== 'qcow2') throw conflict(`the root disk of ${spec.name} is ${rootFormat}: instance snapshots need qcow2 (use the default pool)`);
  const out = [{ id: 'root', path: spec.root.path }];
  for (const v of spec.volumes) {
    if (v.format !== 'qcow2') throw conflict(`volume ${v.pool}/${v.volume} is ${v.format ?? 'not a disk'}: instance snapshots need qcow2 volumes; detach it or snapshot it in its pool`);
    out.push({ id: `${v.pool}/${v.volume}`, path: v.path });
  }
  return out;
}

/** What the snapshot calls need from the driver. */
export interface VmSnapshotHost {
  qemu: QemuDriver;
  exec: HostExec;
  /** Whether the VM's QEMU runs (running or paused). */
  live(spec: InstanceSpec): Promise<boolean>;
  /** Run a QMP call that pauses and resumes the VM itself, without reporting those as events. */
  quietly<T>(spec: InstanceSpec, fn: () => Promise<T>): Promise<T>;
  start(spec: InstanceSpec): Promise<void>;
  /** Run an instant with the guest's filesystems frozen by its agent (when it has one). */
  frozen?<T>(spec: InstanceSpec, instant: () => Promise<T>, log: (line: string) => void): Promise<FrozenResult<T>>;
}

/** Take a snapshot of every disk of the VM. */
export async function takeSnapshot(h: VmSnapshotHost, spec: InstanceSpec, req: { name: string; stateful: boolean }, progress?: (pct: number, msg: string) => void): Promise<SnapshotData> {
  const disks = snapshotDisks(spec);
  const live = await h.live(spec);
  if (req.stateful && !live) throw conflict(`instance ${spec.name} is not running: a stateful snapshot saves a running VM's memory`);
  const snap: SnapshotData = { stateful: req.stateful, disks };
  if (live && req.stateful) {
    progress?.(10, 'saving with QEMU (the VM pauses meanwhile)');
    const qmp = await h.qemu.qmp(spec.hostIds.runDir);
    snap.vmDisks = (await h.quietly(spec, () => saveVmState(qmp, req.name))).disks;
  } else if (live) {
    const qmp = await h.qemu.qmp(spec.hostIds.runDir);
    const plan = planVmStateSave(await listDisks(qmp), req.name); // refuses a tag already there, a writable raw disk
    const instant = () => qmp.execute('transaction', {
      actions: plan.nodes.map((device) => ({ type: 'blockdev-snapshot-internal-sync', data: { device, name: req.name } })),
    });
    const log = (line: string) => progress?.(20, line);
    const r = h.frozen ? await h.frozen(spec, instant, log) : { result: await instant(), consistency: 'crash' as const };
    snap.vmDisks = plan.disks;
    snap.consistency = r.consistency;
    if (r.frozenMs !== undefined) snap.frozenMs = r.frozenMs;
  } else {
    for (const disk of disks) await h.exec.run(['qemu-img', 'snapshot', '-c', req.name, disk.path]);
  }
  return snap;
}

/** Restore: a stateful snapshot is loaded into the running VM (started first when stopped); a disk-only one rolls back each image of the stopped VM. */
export async function restoreSnapshot(h: VmSnapshotHost, spec: InstanceSpec, name: string, data: SnapshotData): Promise<void> {
  const live = await h.live(spec);
  if (!data.stateful) {
    if (live) throw conflict(`instance ${spec.name} is running: stop it to restore a disk-only snapshot (or take a --stateful one)`);
    for (const disk of data.disks) await h.exec.run(['qemu-img', 'snapshot', '-a', name, disk.path]);
    return;
  }
  if (!live) await h.start(spec);
  const qmp = await h.qemu.qmp(spec.hostIds.runDir);
  await h.quietly(spec, () => loadVmState(qmp, name, { disks: data.vmDisks }));
}

/** Delete a snapshot from every disk: through QEMU when the VM runs, else `qemu-img snapshot -d` (missing ones ignored). */
export async function deleteSnapshot(h: VmSnapshotHost, spec: InstanceSpec, name: string, data: SnapshotData): Promise<void> {
  if (await h.live(spec)) {
    const qmp = await h.qemu.qmp(spec.hostIds.runDir);
    await h.quietly(spec, () => deleteVmState(qmp, name));
  } else {
    for (const disk of data.disks) await h.exec.run(['qemu-img', 'snapshot', '-d', name, disk.path], { allowFailure: true });
  }
}
