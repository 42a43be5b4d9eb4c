import { conflict, invalid, notFound, NimboError } from '../lib/errors.js';
import type { SnapshotsPort } from './instance-ports.js';
import type { InstanceRecord } from './instance-record.js';
import type { InstanceRepo } from './instance-repo.js';
import type { InstanceRuntime } from './instance-runtime.js';
import type { StorageService } from './storage-service.js';
import { validateName } from '../lib/validate.js';
import { keys } from '../store/keys.js';
import type { SnapshotData, VolumeSnapshotPort } from '../drivers/compute/instance-driver.js';
import { deleteCounted, putCounted } from './quota/charged.js';

/**
 * An instance snapshot. disk-images drivers (VMs): qcow2 internal snapshots (same tag) of all its disks,
 * optionally with RAM state. pool-volumes drivers (containers): snapshots (same name) of its pool
 * volumes, taken through the pool's driver (root filesystem volume first, then attached volumes).
 */
export interface InstanceSnapshot {
  name: string;
  instance: string;
  createdAt: string;
  stateful: boolean;
  /** The disk images it covers. */
  disks: { id: string; path: string }[];
  /** Node names QEMU saved (stateful snapshots: checked again at restore). */
  vmDisks?: string[];
  expiresAt?: string;
  scheduled?: boolean;
  /** qcow2 (default): internal qcow2 snapshots of `disks`; volume: pool snapshots of `volumes`. */
  kind?: 'qcow2' | 'volume';
  /** kind volume: the pool volumes it covers, root first. */
  volumes?: { pool: string; volume: string }[];
  /** A disk-only snapshot of a running VM: application (its guest agent froze the filesystems) or crash. */
  consistency?: 'application' | 'crash';
  /** consistency application: how long the guest's filesystems were frozen (ms). */
  frozenMs?: number;
}

type VolumeRef = { pool: string; volume: string };

const key = (project: string, inst: string, name: string) => keys.snapshot(project, inst, name);

/** Default snapshot name: snap-YYYYMMDD-HHMMSS (UTC). */
export function snapshotName(prefix: string, at = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${prefix}-${at.getUTCFullYear()}${p(at.getUTCMonth() + 1)}${p(at.getUTCDate())}-${p(at.getUTCHours())}${p(at.getUTCMinutes())}${p(at.getUTCSeconds())}`;
}

/** Snapshots of whole instances (root disk and attached volumes at once; `stateful` adds RAM where the driver can). */
export class InstanceSnapshots implements SnapshotsPort {
  constructor(private runtime: InstanceRuntime, private repo: InstanceRepo, private storage: StorageService) {}

  private get d() {
    return this.runtime.d;
  }

  /** Pool snapshots lent to drivers whose snapshots are pool snapshots (volumes of `project`, by their host names). */
  private vols(project: string): VolumeSnapshotPort {
    const host = (v: string) => this.storage.hostVolume(project, v);
    return {
      create: async (pool, volume, name) => (await this.storage.driver(pool)).createSnapshot(host(volume), name).then(() => undefined),
      restore: async (pool, volume, name) => (await this.storage.driver(pool)).restoreSnapshot(host(volume), name).then(() => undefined),
      remove: async (pool, volume, name) => {
        await (await this.storage.driver(pool)).deleteSnapshot(host(volume), name).catch((e: unknown) => {
          if (!(e instanceof NimboError && e.code === 'NotFound')) throw e;
        });
      },
    };
  }

  /** The qcow2 images of an instance: its root disk and attached qcow2 volumes (raw ones are refused). */
  private async checkDisks(rec: InstanceRecord): Promise<void> {
    const spec = await this.runtime.specOf(rec);
    if (spec.root.format !== 'qcow2') throw conflict(`the root disk of ${rec.name} is ${spec.root.format ?? 'not a disk'}: instance snapshots need qcow2 (use the default pool)`);
    for (const v of spec.volumes) {
      if (v.format !== 'qcow2') throw conflict(`volume ${v.pool}/${v.volume} is ${v.format ?? 'not a disk'}: instance snapshots need qcow2 volumes; detach it or snapshot it in its pool`);
    }
  }

  /** The pool volumes of an instance: its root, then attached volumes. */
  private poolVolumes(rec: InstanceRecord): VolumeRef[] {
    if (!rec.root) throw conflict(`container ${rec.name} has no root volume`);
    return [rec.root, ...(rec.volumes ?? [])].map((v) => ({ pool: v.pool, volume: v.volume }));
  }

  /** The snapshots of one instance of a project, oldest first. */
  async list(project: string, instance: string): Promise<InstanceSnapshot[]> {
    await this.repo.record(project, instance);
    return (await this.d.store.list<InstanceSnapshot>(keys.snapshots(project, instance))).map((k) => k.value).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** One snapshot of an instance of a project. */
  async get(project: string, instance: string, name: string): Promise<InstanceSnapshot> {
    const kv = await this.d.store.get<InstanceSnapshot>(key(project, instance, name));
    if (!kv) throw notFound(`snapshot ${name} of instance ${instance}`);
    return kv.value;
  }

  /** Take a snapshot as an Operation (a running VM pauses while QEMU writes it; a container is frozen meanwhile). */
  async create(project: string, instance: string, opts: { name?: string; stateful?: boolean; expiresAt?: string; scheduled?: boolean } = {}) {
    const rec = await this.repo.record(project, instance);
    if (rec.state === 'creating') throw conflict(`instance ${instance} is still being created`);
    const name = validateName(opts.name ?? snapshotName('snap'), 'snapshot name');
    if (await this.d.store.get(key(project, instance, name))) throw conflict(`snapshot ${name} of ${instance} already exists`);
    await this.d.quota?.check(project, { snapshots: 1 }); // early 403; the binding count is taken with the record
    const caps = this.runtime.caps(rec);
    if (opts.stateful && !caps.statefulSnapshots) throw invalid(`${instance} is a container: containers have no stateful snapshots (saving processes would need CRIU); take a disk-only snapshot`);
    let volumes: VolumeRef[] | undefined;
    if (caps.snapshots === 'pool-volumes') {
      volumes = this.poolVolumes(rec);
      for (const v of volumes) {
        const pc = await (await this.storage.driver(v.pool)).capabilities();
        if (!pc.filesystemSnapshots || !pc.snapshots) throw conflict(`pool ${v.pool} has no snapshots of volume ${v.volume}`);
      }
    } else {
      if (opts.stateful && !(await this.runtime.live(rec))) throw conflict(`instance ${instance} is not running: a stateful snapshot saves a running VM's memory`);
      await this.checkDisks(rec);
    }
    return this.d.ops.start('instance.snapshot.create', instance, async (ctx) => {
      const cur = await this.repo.record(project, instance);
      const data = await this.runtime.driverOf(cur).snapshot(await this.runtime.specOf(cur), { name, stateful: !!opts.stateful }, this.vols(project), (p, m) => ctx.progress(p, m));
      const snap: InstanceSnapshot = {
        name, instance, createdAt: new Date().toISOString(), stateful: data.stateful, disks: data.disks,
        ...(data.vmDisks ? { vmDisks: data.vmDisks } : {}),
        ...(data.consistency ? { consistency: data.consistency } : {}), ...(data.frozenMs !== undefined ? { frozenMs: data.frozenMs } : {}),
        ...(volumes ? { kind: 'volume' as const, volumes: data.volumes ?? volumes } : {}),
        ...(opts.expiresAt ? { expiresAt: opts.expiresAt } : {}), ...(opts.scheduled ? { scheduled: true } : {}),
      };
      try {
        await putCounted(this.d, key(project, instance, name), snap, project, { snapshots: 1 }, `snapshot ${name} of ${instance} already exists`);
      } catch (e) {
        // Over quota after all (a concurrent snapshot won the last one): the snapshot just made goes again.
        await this.runtime.driverOf(cur).deleteSnapshot(await this.runtime.specOf(cur), name, dataOf(snap), this.vols(project)).catch(() => undefined);
        throw e;
      }
      return snap;
    }, { lockAs: this.runtime.lockOf(rec), project });
  }

  /**
   * Restore: a stateful snapshot brings the VM back running where it was (it is started first if
   * stopped); a disk-only snapshot needs the instance stopped and rolls back every disk/volume.
   */
  async restore(project: string, instance: string, name: string) {
    const snap = await this.get(project, instance, name);
    const rec = await this.repo.record(project, instance);
    const live = await this.runtime.live(rec);
    if (snap.kind === 'volume') {
      if (live) throw conflict(`container ${instance} is running: stop it to restore a snapshot`);
      if (rec.state === 'creating' || rec.state === 'starting') throw conflict(`instance ${instance} is ${rec.state}`);
    } else if (!snap.stateful && live) throw conflict(`instance ${instance} is running: stop it to restore a disk-only snapshot (or take a --stateful one)`);
    return this.d.ops.start('instance.snapshot.restore', instance, async (ctx) => {
      const cur = await this.repo.record(project, instance);
      const isLive = await this.runtime.live(cur);
      if (snap.kind === 'volume' && isLive) throw conflict(`container ${instance} is running: stop it to restore a snapshot`);
      if (snap.stateful && !isLive) {
        ctx.progress(20, 'starting the VM');
        await this.runtime.start(cur);
      }
      await this.runtime.driverOf(cur).restoreSnapshot(await this.runtime.specOf(cur), snap.name, dataOf(snap), this.vols(project));
      // Running again where it was saved: desired too, or the reconciler would stop it.
      if (snap.stateful) await this.repo.patch(project, instance, (now) => ({ state: 'running', desired: { autostart: now.desired?.autostart ?? 'last-state', power: 'running' } }));
      return snap;
    }, { lockAs: this.runtime.lockOf(rec), project });
  }

  /** Delete a snapshot from every disk it covers. */
  async remove(project: string, instance: string, name: string) {
    const snap = await this.get(project, instance, name);
    const rec = await this.repo.record(project, instance);
    return this.d.ops.start('instance.snapshot.delete', instance, async () => this.drop(project, snap), { lockAs: this.runtime.lockOf(rec), project });
  }

  /** Delete without an Operation (used inside other operations: expiry, instance delete). */
  async drop(project: string, snap: InstanceSnapshot): Promise<void> {
    const rec = await this.repo.record(project, snap.instance);
    await this.runtime.driverOf(rec).deleteSnapshot(await this.runtime.specOf(rec), snap.name, dataOf(snap), this.vols(project));
    await deleteCounted(this.d, key(project, snap.instance, snap.name));
  }

  /** Forget every snapshot record of a deleted instance (its disks are gone with it). */
  async forget(project: string, instance: string): Promise<void> {
    for (const kv of await this.d.store.list(keys.snapshots(project, instance))) await deleteCounted(this.d, kv.key);
  }

  /** Parse "30m", "12h", "7d", "2w" into milliseconds. */
  static parseDuration(text: string): number {
    const m = /^([1-9][0-9]{0,4})([mhdw])$/.exec(text.trim());
    if (!m) throw invalid(`expiry ${JSON.stringify(text)} must look like 30m, 12h, 7d or 2w`);
    return Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 'm' | 'h' | 'd' | 'w'];
  }
}

/** The driver's part of a snapshot record (a pool-volumes snapshot's volumes are the instance's own, in its spec). */
function dataOf(snap: InstanceSnapshot): SnapshotData {
  return { stateful: snap.stateful, disks: snap.disks, ...(snap.vmDisks ? { vmDisks: snap.vmDisks } : {}), ...(snap.volumes ? { volumes: snap.volumes } : {}) };
}
