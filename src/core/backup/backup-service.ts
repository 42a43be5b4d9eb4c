// Backups of instances: create (an Operation holding the instance's lock, so it is neither started,
// stopped nor deleted meanwhile), list, show and delete. Backups live in datastores (backup-stores.ts)
// and carry their project: a project sees and restores only its own.
import type { Operation } from '../../shared/api-types.js';
import type { Backup } from '../../shared/backup-types.js';
import type { BackupManifest } from '../../backup/manifest.js';
import { conflict, invalid, notFound } from '../../lib/errors.js';
import { validateName } from '../../lib/validate.js';
import type { BaseDeps } from '../deps.js';
import type { InstanceRepo } from '../instance-repo.js';
import type { InstanceRuntime } from '../instance-runtime.js';
import type { BackupStores, OpenStore } from './backup-stores.js';
import { runBackup } from './backup-run.js';

const ID_RE = /^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4,16}$/;

/** A backup found in a store: the open store and its manifest. */
export interface FoundBackup {
  st: OpenStore;
  manifest: BackupManifest;
}

/** Check a backup id's shape (it names a directory inside the datastore). */
export function validateBackupId(id: string): string {
  if (typeof id !== 'string' || !ID_RE.test(id)) throw invalid(`backup id ${JSON.stringify(id)} is not a backup id (like 20261205T141500Z-3fa9)`);
  return id;
}

/** Backups of instances. */
export class BackupService {
  constructor(private d: BaseDeps, private runtime: InstanceRuntime, private repo: InstanceRepo, readonly stores: BackupStores) {}

  /** Back up an instance of a project into a store, as an Operation. */
  async create(project: string, instance: string, opts: { store: string; full?: boolean }): Promise<Operation> {
    const rec = await this.repo.record(project, instance);
    if (rec.state === 'creating') throw conflict(`instance ${instance} is still being created`);
    const st = await this.stores.use(opts.store);
    const caps = this.runtime.caps(rec);
    if (caps.backup === 'block' && !this.runtime.driverOf(rec).openBlockBackup) throw conflict(`instance ${instance}: its driver cannot back up disks`);
    return this.d.ops.start('instance.backup', instance, async (ctx) => {
      const cur = await this.repo.record(project, instance);
      const manifest = await runBackup({ runtime: this.runtime, exec: this.d.exec, log: this.d.log }, st, cur, project, { full: opts.full }, ctx);
      this.d.log.info({ instance, store: st.rec.name, id: manifest.id, mode: manifest.mode, bytesRead: manifest.stats.bytesRead, bytesNew: manifest.stats.bytesNew }, 'backup made');
      return this.view(st, manifest);
      // Backups into one store run side by side (GC and prune are safe with them); the instance's lock keeps it as it is.
    }, { lockAs: this.runtime.lockOf(rec), project });
  }

  /** The backups of a project, newest first (optionally of one store / one instance name). */
  async list(project: string, filter: { store?: string; instance?: string } = {}): Promise<Backup[]> {
    const stores = filter.store ? [await this.stores.get(filter.store)] : await this.stores.list();
    const out: Backup[] = [];
    for (const rec of stores) {
      let st: OpenStore;
      try {
        st = await this.stores.use(rec.name);
      } catch (e) {
        if (filter.store) throw e;
        this.d.log.warn({ store: rec.name, err: String(e) }, 'backup store not readable: left out of the list');
        continue;
      }
      for (const m of await st.ds.listSnapshots({ project })) {
        if (filter.instance && m.instance.name !== filter.instance) continue;
        out.push(await this.view(st, m));
      }
    }
    return out.sort((a, b) => b.time.localeCompare(a.time) || b.id.localeCompare(a.id));
  }

  /** A backup of the project by id (in any store, or the named one); NotFound for another project's. */
  async find(project: string, id: string, store?: string): Promise<FoundBackup> {
    validateBackupId(id);
    const names = store ? [store] : (await this.stores.list()).map((s) => s.name);
    for (const name of names) {
      const st = await this.stores.use(name).catch((e: unknown) => {
        if (store) throw e;
        return undefined;
      });
      if (!st) continue;
      const m = await st.ds.findSnapshot(id);
      if (m && m.project === project) return { st, manifest: m };
    }
    throw notFound(`backup ${id}${store ? ` in store ${store}` : ''}`);
  }

  /** One backup as the API shows it. */
  async get(project: string, id: string, store?: string): Promise<Backup> {
    const { st, manifest } = await this.find(project, id, store);
    return this.view(st, manifest);
  }

  /** Delete a backup (its chunks go at the next garbage collection). */
  async remove(project: string, id: string, store?: string): Promise<void> {
    const { st, manifest } = await this.find(project, id, store);
    await st.ds.removeSnapshot(manifest.project, manifest.instance.uuid, manifest.id);
    this.d.log.info({ store: st.rec.name, id, instance: manifest.instance.name }, 'backup deleted');
  }

  /** The API view of a manifest. */
  async view(st: OpenStore, m: BackupManifest): Promise<Backup> {
    const verified = await st.ds.readVerifyState(m.project, m.instance.uuid, m.id).catch(() => undefined);
    return {
      id: m.id, store: st.rec.name, project: m.project, instance: m.instance, time: m.time, source: m.source, mode: m.mode, consistency: m.consistency,
      encrypted: m.keyFingerprint !== null,
      archives: m.archives.map((a) => ({ name: a.name, type: a.type, size: a.size, ...(a.reason ? { reason: a.reason } : {}) })),
      stats: m.stats,
      ...(verified ? { verified } : {}),
    };
  }

  /** Check an instance name given for a restore target. */
  static targetName(name: string): string {
    return validateName(name, 'instance name');
  }
}
