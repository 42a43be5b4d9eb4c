// Restores: a backup back into its instance (in place: the instance is stopped, its root replaced by the
// backup's, everything else kept; an existing instance needs `force`), or as a new instance (another
// name, pool or project) made from the configuration the backup carries, like a copy: new UUID, MACs,
// addresses and host ids. Both go through the provisioner's one path for roots, so a failure undoes
// every step.
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Operation } from '../../shared/api-types.js';
import type { BackupRestore as RestoreRequest } from '../../shared/backup-types.js';
import type { BackupManifest } from '../../backup/manifest.js';
import { parseDynamicIndex, parseFixedIndex } from '../../backup/index-format.js';
import { restoreBlockToFile } from '../../backup/block-restore.js';
import { dynamicStream } from '../../backup/dynamic-backup.js';
import { extractTar } from '../../backup/tar-extract.js';
import { conflict, invalid, notFound, NimboError } from '../../lib/errors.js';
import type { HostExec } from '../../host/exec.js';
import { Reverter } from '../../lib/reverter.js';
import { validateName } from '../../lib/validate.js';
import { checkInstanceRecord } from '../records/instance-schema.js';
import { copyNicPlan, copyRecord } from '../instance-copy.js';
import { newHostIds } from '../host-ids.js';
import { idPort } from '../instance-ids.js';
import type { InstanceRecord } from '../instance-record.js';
import type { InstanceRepo } from '../instance-repo.js';
import type { InstanceRuntime } from '../instance-runtime.js';
import type { InstanceProvisioner, RootFill } from '../instance-provision.js';
import type { InstanceViews } from '../instance-view.js';
import type { NicsPort } from '../instance-ports.js';
import type { VpsRootSwap } from '../vps-root-swap.js';
import type { BackupService } from './backup-service.js';
import type { OpenStore } from './backup-stores.js';
import { diskArchive, TREE_ARCHIVE, readIndex } from './backup-run.js';
import { restoreState } from './backup-state.js';

/** What restores need. */
export interface RestoreDeps {
  runtime: InstanceRuntime;
  repo: InstanceRepo;
  provisioner: InstanceProvisioner;
  views: InstanceViews;
  nics: NicsPort;
  rootSwap: VpsRootSwap;
  backups: BackupService;
  /** Where restores write temporary disks and trees (STATE/cache). */
  scratch: string;
}

/** The instance record a backup carries, checked like a stored one. */
export function recordOf(m: BackupManifest): InstanceRecord {
  try {
    return checkInstanceRecord(`backup ${m.id}`, m.config);
  } catch (e) {
    throw conflict(`backup ${m.id} carries no usable instance configuration: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** How a backup becomes a root: the root disk as a sparse raw file, or the root tree extracted with container ids. */
export function rootFill(st: OpenStore, m: BackupManifest, scratch: string, exec: HostExec): RootFill {
  const tmp = () => join(scratch, `restore-${m.id}-${randomUUID().slice(0, 8)}`);
  if (m.source === 'block') {
    const a = m.archives.find((x) => x.file === diskArchive('root'));
    if (!a) throw conflict(`backup ${m.id} has no root disk`);
    return {
      state: () => restoreState(st, m),
      rawFile: async () => {
        await mkdir(scratch, { recursive: true, mode: 0o700 });
        const path = `${tmp()}.raw`;
        try {
          await restoreBlockToFile(st.ds, st.codec, parseFixedIndex(await readIndex(st, m, a.file)), path, {});
        } catch (e) {
          await rm(path, { force: true });
          throw e;
        }
        return { path, cleanup: () => rm(path, { force: true }) };
      },
    };
  }
  return {
    // The tree goes straight onto the new root, owners shifted into the instance's host ids.
    tree: async (dir, ids) => {
      const index = parseDynamicIndex(await readIndex(st, m, TREE_ARCHIVE));
      await extractTar(dynamicStream(st.ds, st.codec, index), dir, { ...ids, exec });
    },
  };
}

/** Restores of backups. */
export class BackupRestorer {
  constructor(private d: RestoreDeps) {}

  private get base() {
    return this.d.runtime.d;
  }

  /** Restore backup `id` of `project`: in place (same name; `force` when it exists) or as a new instance. */
  async restore(project: string, id: string, req: RestoreRequest, store?: string): Promise<Operation> {
    const { st, manifest } = await this.d.backups.find(project, id, store);
    const src = recordOf(manifest);
    const target = req.targetProject ?? project;
    const name = validateName(req.name ?? manifest.instance.name, 'instance name');
    const existing = await this.d.repo.record(target, name).catch((e: unknown) => {
      if (e instanceof NimboError && e.code === 'NotFound') return undefined;
      throw e;
    });
    if (existing) {
      if (!req.force) throw conflict(`instance ${name} exists: restore over it with --force (it is stopped and its root replaced), or restore as a new instance with --as NAME`);
      if (existing.type !== src.type) throw conflict(`instance ${name} is a ${existing.type}, backup ${id} is of a ${src.type}`);
      if (req.pool && req.pool !== existing.root?.pool) throw invalid(`an in-place restore keeps ${name}'s pool (${existing.root?.pool}); --pool is for a new instance`);
      return this.d.rootSwap.replaceRoot(target, name, { kind: 'instance.restore', what: `backup ${id}`, fill: rootFill(st, manifest, this.d.scratch, this.base.exec), start: req.start });
    }
    return this.asNew(st, manifest, src, target, name, req);
  }

  /** A new instance from the backup's configuration. */
  private async asNew(st: OpenStore, m: BackupManifest, src: InstanceRecord, project: string, name: string, req: RestoreRequest): Promise<Operation> {
    const pool = req.pool ?? src.root?.pool ?? 'default';
    await this.base.storage.poolRecord(pool);
    const rec = copyRecord(src, name, randomUUID());
    rec.project = project;
    rec.hostIds = newHostIds(this.base.paths, this.base.config.prefix, rec.uuid);
    rec.desired = { power: req.start ? 'running' : 'stopped', autostart: src.desired?.autostart ?? 'last-state' };
    const disk = m.archives.find((a) => a.file === diskArchive('root'));
    if (disk) rec.disk = disk.size;
    const driver = this.d.runtime.driverOf(rec);
    const ids = idPort(this.base.store, rec.uuid);
    rec.driverConfig = await driver.plan({ uuid: rec.uuid, name, image: src.image, ...ids, from: src.driverConfig });
    for (const n of src.nics) await this.base.network.record(project, n.network).catch(() => {
      throw conflict(`backup ${m.id}: network ${n.network} of NIC ${n.name} does not exist in project ${project}`);
    });
    try {
      await this.d.repo.create(rec);
    } catch (e) {
      await driver.release(this.d.runtime.refOf(rec), ids);
      throw e;
    }
    const fill = rootFill(st, m, this.d.scratch, this.base.exec);
    return this.base.ops.start('instance.restore', name, async (ctx) => {
      const r = new Reverter(this.base.log, { instance: name, op: 'restore' });
      try {
        r.add('record', () => this.d.repo.delete(project, name));
        r.add('host ids', () => driver.release(this.d.runtime.refOf(rec), ids));
        ctx.progress(5, `restoring backup ${m.id}`);
        await this.d.provisioner.provision(rec, src.nics.map(copyNicPlan), { from: 'restore', pool, fill }, r, (p, msg) => ctx.progress(p, msg));
        // The VM's UEFI vars and TPM state as backed up (the undo of provision removes them with its instance dir).
        const state = fill.state ? await fill.state() : [];
        if (state.length && driver.importState) await driver.importState(this.d.runtime.refOf(rec), state);
        ctx.checkCancelled();
        if (req.start) {
          ctx.progress(85, 'starting');
          await this.d.runtime.start(rec);
          r.add('instance process', () => driver.stop(this.d.runtime.refOf(rec), { timeoutMs: 0, force: true }));
        }
        const final = await this.d.repo.patch(project, name, { state: req.start ? 'running' : 'stopped', nics: rec.nics, ...(rec.root ? { root: rec.root } : {}) });
        r.success();
        this.base.log.info({ instance: name, backup: m.id, store: st.rec.name }, 'instance restored from a backup');
        return this.d.views.view(final);
      } catch (e) {
        await r.revert();
        await this.d.nics.applyFirewall().catch(() => undefined);
        this.base.events.publish('instance', name, { state: 'deleted' }, project);
        throw e;
      }
    }, { lockAs: this.d.runtime.lockOf(rec), project });
  }

  /** NotFound unless the backup has this archive. */
  static archive(m: BackupManifest, file: string) {
    const a = m.archives.find((x) => x.file === file);
    if (!a) throw notFound(`archive ${file} of backup ${m.id}`);
    return a;
  }
}
