import { NimboError } from '../../../lib/errors.js';
import { listDisks } from './block-ops.js';
import type { QmpClient } from './qmp.js';
import { newJobId, runQmpJob } from './qmp-wait.js';
import {
  collectVmStates, planVmStateDelete, planVmStateLoad, planVmStateSave, snapshotDeleteArgs, snapshotLoadArgs,
  snapshotSaveArgs, type VmStateInfo,
} from './vm-state-plan.js';

/*
 * Stateful snapshots of a running VM with QEMU's snapshot-save/-load/-delete jobs (QEMU >= 6.0):
 * qcow2 internal snapshots of every writable disk, plus the RAM and device state stored in one of
 * them. The VM is stopped while the state is written or read (QEMU's main loop, and so QMP, is
 * busy meanwhile) and resumed afterwards if it was running. Writable raw disks are refused;
 * read-only disks are left out (they cannot change).
 */

/** Default limit of one snapshot job (RAM size / disk speed bound). */
export const SNAPSHOT_TIMEOUT_MS = 600_000;

/** Options of saveVmState. */
export interface SaveVmStateOptions {
  /** Disk whose image stores the RAM state (default: the first writable qcow2 disk). */
  vmstateDisk?: string;
  timeoutMs?: number;
}

/** What a stateful snapshot saved; keep `disks` to check the VM's devices at restore. */
export interface SavedVmState extends VmStateInfo {
  vmstateDisk: string;
  durationMs: number;
}

/** Save RAM + device state and internal snapshots of all writable (qcow2) disks under `tag`. */
export async function saveVmState(qmp: QmpClient, tag: string, opts: SaveVmStateOptions = {}): Promise<SavedVmState> {
  const plan = planVmStateSave(await listDisks(qmp), tag, opts.vmstateDisk);
  const t0 = Date.now();
  await runQmpJob(qmp, 'snapshot-save', snapshotSaveArgs(newJobId('nimbo-snap-save'), tag, plan), opts.timeoutMs ?? SNAPSHOT_TIMEOUT_MS);
  const durationMs = Date.now() - t0;
  const info = collectVmStates(await listDisks(qmp)).find((s) => s.tag === tag);
  return { tag, vmstateDisk: plan.vmstateDisk, disks: plan.disks, vmStateSize: info?.vmStateSize ?? 0, dateSec: info?.dateSec ?? 0, durationMs };
}

/** Options of loadVmState. */
export interface LoadVmStateOptions {
  /** The disks recorded at save time (SavedVmState.disks): refuse when the attached disks differ. */
  disks?: string[];
  timeoutMs?: number;
}

/**
 * Bring the VM back to snapshot `tag`: disks roll back and RAM/device state is loaded; a running
 * VM resumes where it was, a paused one stays paused. The VM must have the same devices and
 * memory as when it was saved: pass `opts.disks` from the save. If QEMU fails half-way (e.g. a
 * disk saved with the state is no longer attached) the disks are already rolled back and the VM
 * is left stopped in 'restore-vm': it must be restarted (the error says which state it is in).
 */
export async function loadVmState(qmp: QmpClient, tag: string, opts: LoadVmStateOptions = {}): Promise<{ durationMs: number; running: boolean }> {
  const plan = planVmStateLoad(await listDisks(qmp), tag, opts.disks);
  const t0 = Date.now();
  try {
    await runQmpJob(qmp, 'snapshot-load', snapshotLoadArgs(newJobId('nimbo-snap-load'), tag, plan), opts.timeoutMs ?? SNAPSHOT_TIMEOUT_MS);
  } catch (e) {
    const st = await qmp.execute<{ status: string }>('query-status').catch(() => undefined);
    if (e instanceof NimboError && st) {
      throw new NimboError(e.code, `${e.message} (the VM is now ${st.status})`, { ...e.detail, vmStatus: st.status }, e);
    }
    throw e;
  }
  const st = await qmp.execute<{ running: boolean }>('query-status');
  return { durationMs: Date.now() - t0, running: st.running };
}

/** Delete snapshot `tag` (RAM state and disk snapshots) from every disk that has it. */
export async function deleteVmState(qmp: QmpClient, tag: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  const plan = planVmStateDelete(await listDisks(qmp), tag);
  await runQmpJob(qmp, 'snapshot-delete', snapshotDeleteArgs(newJobId('nimbo-snap-del'), tag, plan), opts.timeoutMs ?? SNAPSHOT_TIMEOUT_MS);
}

/** The internal snapshots on the VM's writable qcow2 disks, grouped by tag (vmstateDisk set when stateful). */
export async function listVmStates(qmp: QmpClient): Promise<VmStateInfo[]> {
  return collectVmStates(await listDisks(qmp));
}
