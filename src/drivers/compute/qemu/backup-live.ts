// Block backup of a running VM by fleecing: per disk a temporary qcow2 whose backing is the disk,
// filled by a sync=none backup job (copy-before-write: a guest write first copies the old data
// there), exported read-only over QEMU's NBD server. One QMP transaction starts every job, adds the
// new persistent dirty bitmaps and freezes the base ones, so all disks are read at the same instant.
import { chown, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostExec } from '../../../host/exec.js';
import { conflict } from '../../../lib/errors.js';
import { Reverter } from '../../../lib/reverter.js';
import type { BlockBackupRequest, DiskBackupSource } from '../../../shared/backup-source.js';
import { bitmapsOfNode, planDisk, staleBitmaps, type BackupDisk, type DiskPlan } from './backup-plan.js';
import { openNbdBlockReader } from './nbd-block-reader.js';
import type { QmpClient } from './qmp.js';

/**
 * The backup's own dir in the VM's instance dir (traversable by its QEMU, and on disk, not tmpfs: the fleece
 * images grow with every guest write during the backup). It is the QEMU uid's: QEMU creates the NBD socket and
 * opens the fleece images after dropping privileges.
 */
export const backupDir = (instanceDir: string): string => join(instanceDir, 'backup');

/** What a disk of an open session holds. */
export interface OpenDisk {
  disk: BackupDisk;
  plan: DiskPlan;
  source: DiskBackupSource;
}

/** Leftovers of a backup interrupted with the daemon (jobs, exports, fleece nodes, the NBD server): removed before a new one. */
export async function clearStaleFleecing(qmp: QmpClient, disks: BackupDisk[]): Promise<void> {
  const exports = await qmp.execute<{ id: string }[]>('query-block-exports');
  for (const d of disks) if (exports.some((e) => e.id === d.exportName)) await delExport(qmp, d.exportName);
  const jobs = await qmp.execute<{ device: string }[]>('query-block-jobs');
  for (const d of disks) if (jobs.some((j) => j.device === d.job)) await cancelJob(qmp, d.job);
  const nodes = await qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true });
  for (const d of disks) if (nodes.some((n) => n['node-name'] === d.fleeceNode)) await qmp.execute('blockdev-del', { 'node-name': d.fleeceNode });
  await qmp.execute('nbd-server-stop').catch(() => undefined); // none running is the usual case
}

/** Open the fleecing session; `release` (filled here) undoes everything but the bitmaps. */
export async function openLive(qmp: QmpClient, exec: HostExec, instanceDir: string, disks: BackupDisk[], req: BlockBackupRequest, release: Reverter, log: (line: string) => void,
  atInstant: <T>(instant: () => Promise<T>) => Promise<T> = (instant) => instant()): Promise<OpenDisk[]> {
  await clearStaleFleecing(qmp, disks);
  const nodes = await qmp.execute<unknown>('query-named-block-nodes', { flat: true });
  const infos = disks.map((d) => {
    const info = bitmapsOfNode(nodes, d.node);
    if (!info) throw conflict(`disk ${d.id} (node ${d.node}) is not attached to the running VM`);
    return info;
  });
  const plans = disks.map((d, i) => planDisk(d, infos[i]!.bitmaps, req));
  for (const [i, d] of disks.entries()) {
    const p = plans[i]!;
    for (const b of p.remove) await qmp.execute('block-dirty-bitmap-remove', { node: d.node, name: b });
    if (p.merge.length) {
      log(`disk ${d.id}: bitmap ${p.base} was left disabled by an interrupted backup; merging ${p.merge.join(', ')} into it`);
      await qmp.execute('block-dirty-bitmap-merge', { node: d.node, target: p.base, bitmaps: p.merge });
    }
    if (p.reason) log(`disk ${d.id}: full read: ${p.reason}`);
  }

  const dir = backupDir(instanceDir);
  await rm(dir, { recursive: true, force: true }); // an interrupted backup's
  // The QEMU uid owns its disks (the driver chowns them at start): the fleece files and the socket dir become its too.
  const owner = await stat(disks[0]!.path);
  await mkdir(dir, { mode: 0o700 });
  release.add('remove the backup dir', () => rm(dir, { recursive: true, force: true }));
  await chown(dir, owner.uid, owner.gid);
  for (const [i, d] of disks.entries()) {
    const file = join(dir, `${d.fleeceNode}.qcow2`);
    await exec.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '--', file, String(infos[i]!.size)]);
    await chown(file, owner.uid, owner.gid);
    await qmp.execute('blockdev-add', { driver: 'qcow2', 'node-name': d.fleeceNode, file: { driver: 'file', filename: file }, backing: d.node, discard: 'unmap' });
    release.add(`remove fleece node ${d.fleeceNode}`, () => qmp.execute('blockdev-del', { 'node-name': d.fleeceNode }));
  }

  const actions: { type: string; data: Record<string, unknown> }[] = [];
  for (const [i, d] of disks.entries()) {
    const p = plans[i]!;
    actions.push({ type: 'blockdev-backup', data: { 'job-id': d.job, device: d.node, target: d.fleeceNode, sync: 'none', 'auto-dismiss': true } });
    if (p.addNew) actions.push({ type: 'block-dirty-bitmap-add', data: { node: d.node, name: req.newBitmap, persistent: true } });
    if (p.base) actions.push({ type: 'block-dirty-bitmap-disable', data: { node: d.node, name: p.base } });
  }
  await atInstant(() => qmp.execute('transaction', { actions }));
  for (const d of disks) release.add(`cancel backup job ${d.job}`, () => cancelJob(qmp, d.job));

  const sock = join(dir, 'nbd.sock');
  await qmp.execute('nbd-server-start', { addr: { type: 'unix', data: { path: sock } } });
  release.add('stop the NBD server', () => qmp.execute('nbd-server-stop'));
  const out: OpenDisk[] = [];
  for (const [i, d] of disks.entries()) {
    const p = plans[i]!;
    await qmp.execute('block-export-add', {
      type: 'nbd', id: d.exportName, 'node-name': d.fleeceNode, name: d.exportName, writable: false,
      ...(p.base ? { bitmaps: [{ node: d.node, name: p.base }] } : {}),
    });
    release.add(`remove export ${d.exportName}`, () => delExport(qmp, d.exportName));
    const reader = await openNbdBlockReader({ socket: sock, exportName: d.exportName, ...(p.base ? { bitmapContext: `qemu:dirty-bitmap:${p.base}` } : {}) });
    release.add(`close the reader of ${d.id}`, () => reader.close());
    out.push({ disk: d, plan: p, source: { id: d.id, reader, mode: p.mode, ...(p.reason ? { reason: p.reason } : {}), nextBitmap: p.addNew ? req.newBitmap : null } });
  }
  return out;
}

/** After the exports and jobs are gone: ok -> the new bitmap is the next base (old base and stale ones go); else the base takes the new one's changes back. */
export async function settleLiveBitmaps(qmp: QmpClient, open: { disk: BackupDisk; plan: DiskPlan }[], req: BlockBackupRequest, ok: boolean): Promise<void> {
  const nodes = await qmp.execute<unknown>('query-named-block-nodes', { flat: true });
  for (const { disk, plan } of open) {
    if (!plan.addNew) continue;
    const have = bitmapsOfNode(nodes, disk.node)?.bitmaps ?? [];
    if (ok) {
      for (const b of staleBitmaps(have, req)) await qmp.execute('block-dirty-bitmap-remove', { node: disk.node, name: b });
      continue;
    }
    const hasNew = have.some((b) => b.name === req.newBitmap);
    if (hasNew && plan.base && have.some((b) => b.name === plan.base)) {
      await qmp.execute('block-dirty-bitmap-merge', { node: disk.node, target: plan.base, bitmaps: [req.newBitmap] });
      await qmp.execute('block-dirty-bitmap-enable', { node: disk.node, name: plan.base });
    }
    if (hasNew) await qmp.execute('block-dirty-bitmap-remove', { node: disk.node, name: req.newBitmap });
  }
}

async function until(what: string, fn: () => Promise<boolean>, ms = 30_000): Promise<void> {
  for (const t0 = Date.now(); !(await fn()); await new Promise((r) => setTimeout(r, 50))) {
    if (Date.now() - t0 > ms) throw conflict(`timed out after ${ms} ms waiting for ${what}`);
  }
}

async function delExport(qmp: QmpClient, id: string): Promise<void> {
  await qmp.execute('block-export-del', { id, mode: 'hard' }).catch(() => undefined); // already shutting down is fine
  await until(`export ${id} to go`, async () => !(await qmp.execute<{ id: string }[]>('query-block-exports')).some((e) => e.id === id));
}

async function cancelJob(qmp: QmpClient, job: string): Promise<void> {
  const jobs = async () => qmp.execute<{ device: string }[]>('query-block-jobs');
  if (!(await jobs()).some((j) => j.device === job)) return;
  await qmp.execute('block-job-cancel', { device: job, force: true });
  await until(`backup job ${job} to end`, async () => !(await jobs()).some((j) => j.device === job));
}
