// Block backup of a stopped VM: its images as they are, each served read-only by qemu-nbd with the
// base bitmap exported; the new persistent bitmap is added to the image first (qemu-img bitmap),
// so the writes of the next run are tracked. Core holds the instance's lock: it does not start meanwhile.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostExec } from '../../../host/exec.js';
import type { Reverter } from '../../../lib/reverter.js';
import type { BlockBackupRequest } from '../../../shared/backup-source.js';
import type { OpenDisk } from './backup-live.js';
import { bitmapsOfImageInfo, planDisk, staleBitmaps, type BackupDisk, type BitmapState, type DiskPlan } from './backup-plan.js';
import { startQemuNbd } from './backup-qemu-nbd.js';
import { openNbdBlockReader } from './nbd-block-reader.js';

/** The bitmaps of a stopped VM's qcow2 image. */
export async function imageBitmaps(exec: HostExec, path: string): Promise<BitmapState[]> {
  const r = await exec.run(['qemu-img', 'info', '--output=json', '-f', 'qcow2', '--', path]);
  return bitmapsOfImageInfo(JSON.parse(r.stdout));
}

/** Open every image of the stopped VM; `release` (filled here) stops the servers and removes the sockets. */
export async function openStopped(exec: HostExec, disks: BackupDisk[], req: BlockBackupRequest, release: Reverter, log: (line: string) => void): Promise<OpenDisk[]> {
  const plans: DiskPlan[] = [];
  for (const d of disks) plans.push(planDisk(d, d.format === 'qcow2' ? await imageBitmaps(exec, d.path) : [], req));
  for (const [i, d] of disks.entries()) {
    const p = plans[i]!;
    for (const b of p.remove) await exec.run(['qemu-img', 'bitmap', '-f', 'qcow2', '--remove', '--', d.path, b]);
    if (p.merge.length) {
      log(`disk ${d.id}: bitmap ${p.base} was left disabled by an interrupted backup; merging ${p.merge.join(', ')} into it`);
      for (const m of p.merge) await exec.run(['qemu-img', 'bitmap', '-f', 'qcow2', '--merge', m, '--', d.path, p.base!]);
      await exec.run(['qemu-img', 'bitmap', '-f', 'qcow2', '--enable', '--', d.path, p.base!]);
    }
    if (p.reason) log(`disk ${d.id}: full read: ${p.reason}`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'nimbo-backup-'));
  release.add('remove the backup socket dir', () => rm(dir, { recursive: true, force: true }));
  for (const [i, d] of disks.entries()) {
    // Added before qemu-nbd opens the image: the server holds it read-only (shared lock) until finish.
    if (plans[i]!.addNew) await exec.run(['qemu-img', 'bitmap', '-f', 'qcow2', '--add', '--', d.path, req.newBitmap]);
  }
  const out: OpenDisk[] = [];
  for (const [i, d] of disks.entries()) {
    const p = plans[i]!;
    const srv = await startQemuNbd(d.path, d.format, join(dir, `${i}.sock`), p.base);
    release.add(`stop qemu-nbd of ${d.id}`, () => srv.stop());
    const reader = await openNbdBlockReader({ socket: srv.socket, exportName: '', ...(p.base ? { bitmapContext: `qemu:dirty-bitmap:${p.base}` } : {}) });
    release.add(`close the reader of ${d.id}`, () => reader.close());
    out.push({ disk: d, plan: p, source: { id: d.id, reader, mode: p.mode, ...(p.reason ? { reason: p.reason } : {}), nextBitmap: p.addNew ? req.newBitmap : null } });
  }
  return out;
}

/** ok: the old base and stale bitmaps go; else the new one goes (nothing was written meanwhile: the base still holds every change). */
export async function settleStoppedBitmaps(exec: HostExec, open: { disk: BackupDisk; plan: DiskPlan }[], req: BlockBackupRequest, ok: boolean): Promise<void> {
  for (const { disk, plan } of open) {
    if (!plan.addNew) continue;
    const have = await imageBitmaps(exec, disk.path);
    const drop = ok ? staleBitmaps(have, req) : have.some((b) => b.name === req.newBitmap) ? [req.newBitmap] : [];
    for (const b of drop) await exec.run(['qemu-img', 'bitmap', '-f', 'qcow2', '--remove', '--', disk.path, b]);
  }
}
