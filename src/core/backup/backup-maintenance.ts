// Whole-datastore work: verify (re-read every chunk, check its digest, name the backups a bad chunk
// breaks), prune (retention as restic and Proxmox define it, per instance, with a dry run) and garbage
// collection (mark and sweep, safe while backups write). Verify and GC run as Operations locked on the
// store, so two of them never overlap; backups keep running meanwhile.
import type { Operation } from '../../shared/api-types.js';
import type { PruneResult, RetentionPolicy } from '../../shared/backup-types.js';
import type { BackupManifest } from '../../backup/manifest.js';
import { verifyDatastore } from '../../backup/verify.js';
import { garbageCollect } from '../../backup/gc.js';
import { rename } from 'node:fs/promises';
import { selectRetention, validatePolicy } from '../../backup/retention.js';
import { lockTarget } from '../../store/keys.js';
import type { BaseDeps } from '../deps.js';
import type { BackupStores, OpenStore } from './backup-stores.js';

/** Group a store's backups by instance (project + UUID): retention applies per group. */
function groups(manifests: BackupManifest[]): Map<string, BackupManifest[]> {
  const out = new Map<string, BackupManifest[]>();
  for (const m of manifests) {
    const k = `${m.project}/${m.instance.uuid}`;
    out.set(k, [...(out.get(k) ?? []), m]);
  }
  return out;
}

/** Verify, prune and GC of datastores. */
export class BackupMaintenance {
  constructor(private d: BaseDeps, private stores: BackupStores) {}

  /** Verify every chunk of a store (or only the chunks of one project's backups) as an Operation. */
  async verify(store: string, project?: string): Promise<Operation> {
    const st = await this.stores.use(store);
    return this.d.ops.start('backup.verify', `backup-store/${store}`, async (ctx) => {
      const snaps = await st.ds.listSnapshots(project ? { project } : {});
      const report = await verifyDatastore(st.ds, st.codec, { snapshots: snaps.map((m) => m.id), signal: ctx.signal, onProgress: (done: number, total: number) => ctx.progress(Math.floor((done / Math.max(1, total)) * 100), `${done}/${total} chunks`) });
      for (const b of report.broken) ctx.log(`backup ${b.id} of ${b.instance} is broken: ${b.archives.join(', ')}`);
      for (const u of report.unreadable) ctx.log(`backup ${u.id}: its index cannot be read: ${u.error}`);
      // A corrupt chunk is moved aside (like Proxmox's .bad): the next backup that meets the same data writes it again.
      for (const d of report.corrupt) await rename(st.ds.chunkPath(d), `${st.ds.chunkPath(d)}.bad`).catch(() => undefined);
      if (report.corrupt.length || report.missing.length) ctx.log(`${report.corrupt.length} corrupt (moved aside as .bad) and ${report.missing.length} missing chunks`);
      return { ...report, ok: report.corrupt.length === 0 && report.missing.length === 0 && report.unreadable.length === 0 };
    }, { lockAs: lockTarget.backupStore(store), ...(project ? { project } : {}) });
  }

  /** What a retention policy keeps and removes, per instance; removes them unless dryRun. */
  async prune(store: string, policy: RetentionPolicy, opts: { project?: string; instance?: string; dryRun?: boolean }): Promise<PruneResult> {
    validatePolicy(policy);
    const st = await this.stores.use(store);
    const all = await st.ds.listSnapshots(opts.project ? { project: opts.project } : {});
    const mine = opts.instance ? all.filter((m) => m.instance.name === opts.instance) : all;
    const result: PruneResult = { dryRun: !!opts.dryRun, keep: [], remove: [] };
    for (const list of groups(mine).values()) {
      const byId = new Map(list.map((m) => [m.id, m]));
      const sel = selectRetention(list.map((m) => ({ id: m.id, time: m.time })), policy);
      for (const k of sel.keep) result.keep.push({ id: k.id, instance: byId.get(k.id)!.instance.name, reasons: k.reasons });
      for (const id of sel.remove) {
        const m = byId.get(id)!;
        result.remove.push({ id, instance: m.instance.name });
        if (!opts.dryRun) await st.ds.removeSnapshot(m.project, m.instance.uuid, m.id);
      }
    }
    if (!opts.dryRun && result.remove.length) this.d.log.info({ store, removed: result.remove.length }, 'backups pruned');
    return result;
  }

  /** Garbage collection of a store as an Operation: chunks no backup references go (those written in the last `graceMs`, default a minute, stay). */
  async gc(store: string, opts: { graceMs?: number } = {}): Promise<Operation> {
    const st: OpenStore = await this.stores.use(store);
    return this.d.ops.start('backup.gc', `backup-store/${store}`, async (ctx) => {
      ctx.progress(5, 'marking the chunks backups use');
      const res = await garbageCollect(st.ds, st.writers, { graceMs: opts.graceMs ?? 60_000, signal: ctx.signal });
      ctx.log(`removed ${res.removed} chunks (${res.removedBytes} bytes), kept ${res.kept} (${res.keptBytes} bytes; chunks younger than a minute stay)`);
      return res;
    }, { lockAs: lockTarget.backupStore(store) });
  }
}
