import { unmountContainerRoot } from '../drivers/compute/runc/rootfs/container-root.js';
import { conflict, invalid, notFound, NimboError } from '../lib/errors.js';
import type { InstanceHost, SnapshotsPort } from './instance-ports.js';
import type { InstanceRecord } from './instance-record.js';
import type { StorageService } from './storage-service.js';
import { validateName } from '../lib/validate.js';
import type { OpContext } from './operations.js';

/**
 * An instance snapshot. VMs: qcow2 internal snapshots (same tag) of all its disks, optionally
 * with RAM state. Containers: snapshots (same name) of its pool volumes, taken through the
 * pool's driver (root filesystem volume first, then attached volumes).
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
  /** qcow2 (default, VMs): internal qcow2 snapshots of `disks`; volume (containers): driver snapshots of `volumes`. */
  kind?: 'qcow2' | 'volume';
  /** kind volume: the pool volumes it covers, root first. */
  volumes?: { pool: string; volume: string }[];
}

type VolumeRef = { pool: string; volume: string };

const key = (inst: string, name: string) => `/snapshots/${inst}/${name}`;

/** Default snapshot name: snap-YYYYMMDD-HHMMSS (UTC). */
export function snapshotName(prefix: string, at = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${prefix}-${at.getUTCFullYear()}${p(at.getUTCMonth() + 1)}${p(at.getUTCDate())}-${p(at.getUTCHours())}${p(at.getUTCMinutes())}${p(at.getUTCSeconds())}`;
}

/** Snapshots of whole instances (root disk and attached volumes at once; `stateful` adds RAM, VMs only). */
export class InstanceSnapshots implements SnapshotsPort {
  constructor(private svc: InstanceHost, private storage: StorageService) {}

  private get d() {
    return this.svc.d;
  }

  private async running(name: string): Promise<boolean> {
    const st = await this.d.compute.state(this.d.paths.run(name));
    return st === 'running' || st === 'paused';
  }

  /** The qcow2 images of an instance: its root disk and attached qcow2 volumes (raw ones are refused). */
  private async disks(rec: InstanceRecord): Promise<{ id: string; path: string }[]> {
    const root = await this.svc.rootDisk(rec);
    if (root.format !== 'qcow2') throw conflict(`the root disk of ${rec.name} is ${root.format}: instance snapshots need qcow2 (use the default pool)`);
    const out = [{ id: 'root', path: root.path }];
    for (const v of rec.volumes ?? []) {
      const loc = await (await this.storage.driver(v.pool)).volumePath(v.volume);
      if (loc.format !== 'qcow2') throw conflict(`volume ${v.pool}/${v.volume} is ${loc.format ?? 'not a disk'}: instance snapshots need qcow2 volumes; detach it or snapshot it in its pool`);
      out.push({ id: `${v.pool}/${v.volume}`, path: loc.path });
    }
    return out;
  }

  /** The pool volumes of a container: its root, then attached volumes. */
  private containerVolumes(rec: InstanceRecord): VolumeRef[] {
    if (!rec.root) throw conflict(`container ${rec.name} has no root volume`);
    return [rec.root, ...(rec.volumes ?? [])].map((v) => ({ pool: v.pool, volume: v.volume }));
  }

  async list(instance: string): Promise<InstanceSnapshot[]> {
    await this.svc.record(instance);
    return (await this.d.store.list<InstanceSnapshot>(`/snapshots/${instance}/`)).map((k) => k.value).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async get(instance: string, name: string): Promise<InstanceSnapshot> {
    const kv = await this.d.store.get<InstanceSnapshot>(key(instance, name));
    if (!kv) throw notFound(`snapshot ${name} of instance ${instance}`);
    return kv.value;
  }

  /** Take a snapshot as an Operation. A running VM pauses while QEMU writes it (snapshot-save). */
  async create(instance: string, opts: { name?: string; stateful?: boolean; expiresAt?: string; scheduled?: boolean } = {}) {
    const rec = await this.svc.record(instance);
    if (rec.state === 'creating') throw conflict(`instance ${instance} is still being created`);
    const name = validateName(opts.name ?? snapshotName('snap'), 'snapshot name');
    if (await this.d.store.get(key(instance, name))) throw conflict(`snapshot ${name} of ${instance} already exists`);
    if (rec.type === 'container') {
      if (opts.stateful) throw invalid(`${instance} is a container: containers have no stateful snapshots (saving processes would need CRIU); take a disk-only snapshot`);
      const volumes = this.containerVolumes(rec);
      for (const v of volumes) {
        const caps = await (await this.storage.driver(v.pool)).capabilities();
        if (!caps.filesystemSnapshots || !caps.snapshots) throw conflict(`pool ${v.pool} has no snapshots of volume ${v.volume}`);
      }
      return this.d.ops.start('instance.snapshot.create', instance, async (ctx) => this.takeVolumes(rec, name, volumes, opts, ctx));
    }
    const live = await this.running(instance);
    if (opts.stateful && !live) throw conflict(`instance ${instance} is not running: a stateful snapshot saves a running VM's memory`);
    const disks = await this.disks(rec);
    return this.d.ops.start('instance.snapshot.create', instance, async (ctx) => this.take(rec, name, disks, opts, ctx));
  }

  /**
   * Snapshot every volume of a container through its pool's driver. A running container is
   * paused (cgroup freezer) meanwhile, so all volumes are consistent with each other, then
   * resumed; one that was already paused stays paused. A failure removes what was taken.
   */
  private async takeVolumes(rec: InstanceRecord, name: string, volumes: VolumeRef[], opts: { expiresAt?: string; scheduled?: boolean }, ctx: OpContext) {
    const runDir = this.d.paths.run(rec.name);
    const st = await this.d.compute.state(runDir);
    const snap: InstanceSnapshot = {
      name, instance: rec.name, createdAt: new Date().toISOString(), stateful: false, kind: 'volume', volumes,
      disks: [],
      ...(opts.expiresAt ? { expiresAt: opts.expiresAt } : {}), ...(opts.scheduled ? { scheduled: true } : {}),
    };
    const taken: VolumeRef[] = [];
    const pause = st === 'running';
    if (pause) {
      ctx.progress(10, 'pausing the container');
      await this.d.compute.pause(runDir);
    }
    try {
      for (const [i, v] of volumes.entries()) {
        ctx.progress(20 + Math.floor((60 * i) / volumes.length), `snapshotting ${v.pool}/${v.volume}`);
        const dr = await this.storage.driver(v.pool);
        await dr.createSnapshot(v.volume, name);
        taken.push(v);
        snap.disks.push({ id: i === 0 ? 'root' : `${v.pool}/${v.volume}`, path: (await dr.volumePath(v.volume)).path });
      }
    } catch (e) {
      for (const v of taken) await (await this.storage.driver(v.pool)).deleteSnapshot(v.volume, name).catch(() => undefined);
      throw e;
    } finally {
      if (pause) await this.d.compute.resume(runDir);
    }
    await this.d.store.put(key(rec.name, name), snap);
    return snap;
  }

  private async take(rec: InstanceRecord, name: string, disks: { id: string; path: string }[], opts: { stateful?: boolean; expiresAt?: string; scheduled?: boolean }, ctx: OpContext) {
    const snap: InstanceSnapshot = { name, instance: rec.name, createdAt: new Date().toISOString(), stateful: !!opts.stateful, disks, ...(opts.expiresAt ? { expiresAt: opts.expiresAt } : {}), ...(opts.scheduled ? { scheduled: true } : {}) };
    // A running VM is saved through QEMU (RAM too, it pauses meanwhile), a stopped one image by image.
    const saved = await this.d.vms.snapshot(this.svc.vmRef(rec), { name, stateful: snap.stateful, disks }, (p, m) => ctx.progress(p, m));
    if (saved.vmDisks) snap.vmDisks = saved.vmDisks;
    await this.d.store.put(key(rec.name, name), snap);
    return snap;
  }

  /**
   * Restore: a stateful snapshot brings the VM back running where it was (it is started first if
   * stopped); a disk-only snapshot needs the instance stopped and rolls back every disk.
   */
  async restore(instance: string, name: string) {
    const snap = await this.get(instance, name);
    const live = await this.running(instance);
    if (snap.kind === 'volume') {
      if (live) throw conflict(`container ${instance} is running: stop it to restore a snapshot`);
      const rec = await this.svc.record(instance);
      if (rec.state === 'creating' || rec.state === 'starting') throw conflict(`instance ${instance} is ${rec.state}`);
      return this.d.ops.start('instance.snapshot.restore', instance, async (ctx) => {
        if (await this.running(instance)) throw conflict(`container ${instance} is running: stop it to restore a snapshot`);
        for (const [i, v] of (snap.volumes ?? []).entries()) {
          ctx.progress(10 + Math.floor((80 * i) / (snap.volumes ?? []).length), `restoring ${v.pool}/${v.volume}`);
          const dr = await this.storage.driver(v.pool);
          // A stopped container's overlay root stays mounted; its next start mounts the restored one.
          if (i === 0) await unmountContainerRoot(this.d.exec, (await dr.volumePath(v.volume)).path);
          await dr.restoreSnapshot(v.volume, name);
        }
        return snap;
      });
    }
    if (!snap.stateful && live) throw conflict(`instance ${instance} is running: stop it to restore a disk-only snapshot (or take a --stateful one)`);
    return this.d.ops.start('instance.snapshot.restore', instance, async (ctx) => {
      if (snap.stateful && !(await this.running(instance))) {
        ctx.progress(20, 'starting the VM');
        await this.svc.boot(await this.svc.record(instance));
      }
      // Stateful: loaded into the running VM; disk-only: each image of the stopped VM rolls back.
      await this.d.vms.restoreSnapshot(this.svc.vmRef({ name: instance }), snap);
      if (snap.stateful) await this.svc.patch(instance, { state: 'running' });
      return snap;
    });
  }

  /** Delete a snapshot from every disk it covers. */
  async remove(instance: string, name: string) {
    const snap = await this.get(instance, name);
    return this.d.ops.start('instance.snapshot.delete', instance, async () => this.drop(snap));
  }

  /** Delete without an Operation (used inside other operations: expiry, instance delete). */
  async drop(snap: InstanceSnapshot): Promise<void> {
    if (snap.kind === 'volume') {
      for (const v of snap.volumes ?? []) {
        await (await this.storage.driver(v.pool)).deleteSnapshot(v.volume, snap.name).catch((e: unknown) => {
          if (!(e instanceof NimboError && e.code === 'NotFound')) throw e;
        });
      }
    } else {
      await this.d.vms.deleteSnapshot(this.svc.vmRef({ name: snap.instance }), snap);
    }
    await this.d.store.delete(key(snap.instance, snap.name));
  }

  /** Forget every snapshot record of a deleted instance (its disks are gone with it). */
  async forget(instance: string): Promise<void> {
    for (const kv of await this.d.store.list(`/snapshots/${instance}/`)) await this.d.store.delete(kv.key);
  }

  /** Parse "30m", "12h", "7d", "2w" into milliseconds. */
  static parseDuration(text: string): number {
    const m = /^([1-9][0-9]{0,4})([mhdw])$/.exec(text.trim());
    if (!m) throw invalid(`expiry ${JSON.stringify(text)} must look like 30m, 12h, 7d or 2w`);
    return Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 'm' | 'h' | 'd' | 'w'];
  }
}
