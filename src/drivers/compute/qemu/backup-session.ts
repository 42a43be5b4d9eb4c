// openBlockBackup of the QEMU driver: a running VM is fleeced (backup-live.ts), a stopped one is
// read from its images (backup-stopped.ts); finish() releases everything and settles the bitmaps.
import { resolve } from 'node:path';
import type { HostExec } from '../../../host/exec.js';
import { Reverter } from '../../../lib/reverter.js';
import type { BackupConsistency, BlockBackupRequest, BlockBackupSession } from '../../../shared/backup-source.js';
import type { InstanceSpec } from '../instance-driver.js';
import { openLive, settleLiveBitmaps, type OpenDisk } from './backup-live.js';
import { backupDisks, checkBackupRequest } from './backup-plan.js';
import { openStopped, settleStoppedBitmaps } from './backup-stopped.js';
import type { QemuDriver } from './driver.js';
import type { FrozenResult } from './guest-freeze.js';

/** What a block backup needs from the driver. */
export interface VmBackupHost {
  qemu: QemuDriver;
  exec: HostExec;
  live(spec: InstanceSpec): Promise<boolean>;
  /** Run the backup's instant with the guest's filesystems frozen by its agent (when it has one). */
  frozen?<T>(spec: InstanceSpec, instant: () => Promise<T>): Promise<FrozenResult<T>>;
}

/** Open every disk of the VM at one instant (see BlockBackupSession); a failure leaves nothing behind and every bitmap as it was. */
export async function openVmBlockBackup(h: VmBackupHost, spec: InstanceSpec, req: BlockBackupRequest, log: (line: string) => void): Promise<BlockBackupSession> {
  checkBackupRequest(req);
  const disks = backupDisks(spec);
  const release = new Reverter();
  const live = await h.live(spec);
  const runDir = resolve(spec.hostIds.runDir);
  const settle = async (open: Pick<OpenDisk, 'disk' | 'plan'>[], ok: boolean): Promise<void> => {
    if (live) await settleLiveBitmaps(await h.qemu.qmp(runDir), open, req, ok);
    else await settleStoppedBitmaps(h.exec, open, req, ok);
  };
  let open: OpenDisk[] | undefined;
  let consistency: BackupConsistency = live ? 'crash-consistent' : 'stopped';
  // The backup's instant (the one QMP transaction that starts every job): inside a guest freeze when the agent answers.
  const atInstant = async <T>(instant: () => Promise<T>): Promise<T> => {
    if (!h.frozen) return instant();
    const r = await h.frozen(spec, instant);
    if (r.consistency === 'application') consistency = 'application-consistent';
    return r.result;
  };
  try {
    open = live
      ? await openLive(await h.qemu.qmp(runDir), h.exec, resolve(spec.hostIds.instanceDir), disks, req, release, log, atInstant)
      : await openStopped(h.exec, disks, req, release, log);
  } catch (e) {
    const failed = await release.revert();
    // The new bitmap may already be on some disks (added before the failure): give its changes back to the base.
    await settle(disks.map((disk) => ({ disk, plan: { mode: 'full', merge: [], remove: [], addNew: disk.format === 'qcow2', base: req.baseBitmaps[disk.id] } })), false)
      .catch((err: Error) => failed.push(`restore bitmaps: ${err.message}`));
    for (const f of failed) log(`cleanup after a failed backup start: ${f}`);
    throw e;
  }
  log(live ? `reading the disks of the running VM through fleecing (${consistency})` : 'reading the disks of the stopped VM');
  let done = false;
  const opened = open;
  return {
    disks: opened.map((o) => o.source),
    consistency,
    async finish(ok: boolean): Promise<void> {
      if (done) return;
      done = true;
      const failed = await release.revert();
      try {
        await settle(opened, ok && failed.length === 0);
      } catch (e) {
        failed.push(`bitmaps: ${(e as Error).message}`);
      }
      if (failed.length) {
        for (const f of failed) log(`backup cleanup: ${f}`);
        throw new Error(`backup of ${spec.name}: cleanup failed: ${failed.join('; ')}`);
      }
    },
  };
}
