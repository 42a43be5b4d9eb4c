import type { VolumePatch } from '../shared/storage-types.js';
import { conflict, invalid, notFound } from '../lib/errors.js';
import type { InstanceHost, VolumesPort } from './instance-ports.js';
import type { InstanceRecord } from './instance-record.js';
import { NO_LIMITS, type StorageService } from './storage-service.js';
import { parseSize } from '../lib/validate.js';
import { checkMountPath, shiftVolume } from '../drivers/compute/runc/volumes.js';
import { ID_SIZE } from '../drivers/compute/runc/container-info.js';
import { mountHelper } from '../drivers/compute/runc/rootfs/mount-helper.js';
import type { OpContext } from './operations.js';

/** Volumes attached to instances: kept in the instance record, hot-plugged into running VMs over QMP, bind-mounted into containers at start. */
export class InstanceVolumes implements VolumesPort {
  constructor(private svc: InstanceHost, private storage: StorageService) {}

  private get d() {
    return this.svc.d;
  }

  private async running(rec: InstanceRecord): Promise<boolean> {
    const st = await this.d.compute.state(this.d.paths.run(rec.name));
    return st === 'running' || st === 'paused';
  }

  /** Hot-plug every attached volume into a VM that just started, with its I/O limits. */
  async plugAll(rec: InstanceRecord): Promise<void> {
    for (const v of rec.volumes ?? []) await this.plug(rec, v.pool, v.volume);
  }

  /** Hot-plug one volume into the running VM `rec` (the file is handed to that VM's QEMU uid only). */
  private async plug(rec: InstanceRecord, pool: string, volume: string): Promise<void> {
    const loc = await (await this.storage.driver(pool)).volumePath(volume);
    const meta = await this.storage.meta(pool, volume);
    await this.d.vms.plugVolume(this.svc.vmRef(rec), { pool, volume, path: loc.path, format: loc.format, limits: meta.limits }, true);
  }

  /** Attach a volume: a block volume to a VM (hot-plugged when it runs), a filesystem volume to a stopped container at `path`. */
  async attach(name: string, pool: string, volume: string, path?: string) {
    const rec = await this.svc.record(name);
    const vol = await this.storage.volume(pool, volume);
    if (rec.type === 'container') return this.attachToContainer(rec, pool, volume, vol.kind, path);
    if (path !== undefined) throw invalid(`path is where a filesystem volume is mounted in a container; ${name} is a VM (the volume appears as a disk)`);
    if (vol.kind !== 'block') throw invalid(`volume ${pool}/${volume} is a ${vol.kind} volume: only block volumes attach to VMs`);
    return this.claimed(name, pool, volume, async () => {
      const cur = await this.svc.record(name);
      if (await this.running(cur)) await this.plug(cur, pool, volume);
      await this.svc.patch(name, (now) => ({ volumes: [...(now.volumes ?? []), { pool, volume }] }));
      return this.storage.volume(pool, volume);
    });
  }

  /**
   * Claim the volume for `name` now (of concurrent requests exactly one wins, the others get a 409 at once), then
   * run `body` as the attach operation (locked on the instance and the volume); the claim is given back when the
   * body fails or never runs.
   */
  private async claimed<T>(name: string, pool: string, volume: string, body: (ctx: OpContext) => Promise<T>) {
    await this.storage.claim(pool, volume, name);
    const release = () => this.storage.release(pool, volume, name);
    try {
      return await this.d.ops.start(
        'instance.volume.attach',
        name,
        async (ctx) => {
          try {
            return await body(ctx);
          } catch (e) {
            await release();
            throw e;
          }
        },
        { locks: [`volume/${pool}/${volume}`], notRun: release },
      );
    } catch (e) {
      await release();
      throw e;
    }
  }

  /** A filesystem volume into a container: its files move to the container's id range; hot-plugged when it runs, mounted at every start. */
  private async attachToContainer(rec: InstanceRecord, pool: string, volume: string, kind: string, path?: string) {
    if (kind !== 'filesystem') throw invalid(`volume ${pool}/${volume} is a ${kind} volume: only filesystem volumes attach to containers`);
    if (path === undefined) throw invalid(`give the path where ${pool}/${volume} is mounted in container ${rec.name} (--path)`);
    const mountPath = checkMountPath(path, (rec.volumes ?? []).map((v) => v.path));
    const ct = rec.container!;
    return this.claimed(rec.name, pool, volume, async (ctx) => {
      const meta = await this.storage.meta(pool, volume);
      ctx.progress(20, 'giving its files to the container\'s ids');
      const dir = (await (await this.storage.driver(pool)).volumePath(volume)).path;
      // Never re-own a tree another container can still write to (e.g. one left mounted by an older daemon).
      const users = await mountHelper.volumeMounts(dir);
      if (users.length) throw conflict(`volume ${pool}/${volume} is still mounted at ${users[0]!.mountPoint} in the mount namespace of host pid ${users[0]!.pid}: detach it there first`);
      await shiftVolume(dir, ct.hostId, ID_SIZE, meta.idOwner);
      await this.storage.updateMeta(pool, volume, (m) => ({ ...m, idOwner: ct.hostId }));
      const cur = await this.svc.record(rec.name);
      if (await this.running(cur)) {
        ctx.progress(60, 'mounting it in the running container');
        await this.svc.containers!.plugVolume(cur, dir, mountPath);
      }
      await this.svc.patch(rec.name, (now) => ({ volumes: [...(now.volumes ?? []), { pool, volume, path: mountPath }] }));
      return this.storage.volume(pool, volume);
    });
  }

  /** For a forced volume delete: drop the volume from a STOPPED instance's record (Conflict while it runs). */
  forgetOnStopped(pool: string, volume: string): (instance: string) => Promise<void> {
    return async (instance) => {
      const rec = await this.svc.record(instance);
      if (rec.root?.pool === pool && rec.root.volume === volume) throw conflict(`volume ${pool}/${volume} is the root disk of ${instance}: delete the instance instead`);
      if (await this.running(rec)) throw conflict(`volume ${pool}/${volume} is in use by running instance ${instance}: detach it first`);
      await this.svc.patch(instance, (now) => ({ volumes: (now.volumes ?? []).filter((v) => !(v.pool === pool && v.volume === volume)) }));
    };
  }

  /** Mark every volume of a deleted instance as free again (the volumes themselves stay). */
  async releaseAll(rec: InstanceRecord): Promise<void> {
    for (const v of rec.volumes ?? []) await this.storage.release(v.pool, v.volume, rec.name);
  }

  /** Detach a volume; hot-unplugged (the guest releases it) when the VM runs. */
  async detach(name: string, pool: string, volume: string) {
    const rec = await this.svc.record(name);
    const att = (rec.volumes ?? []).find((v) => v.pool === pool && v.volume === volume);
    if (!att) throw notFound(`volume ${pool}/${volume} on instance ${name}`);
    // Refused at once (409) while a process in the container holds it; the operation re-checks as it unmounts.
    if (rec.type === 'container' && att.path) await this.svc.containers!.assertVolumeFree((await (await this.storage.driver(pool)).volumePath(volume)).path);
    return this.d.ops.start('instance.volume.detach', name, async () => {
      const cur = await this.svc.record(name);
      const v = (cur.volumes ?? []).find((x) => x.pool === pool && x.volume === volume);
      // A VM's disk is hot-unplugged when it runs, then belongs to root again: its QEMU (or one escaped from it) can no longer open it.
      if (cur.type === 'vm') {
        const live = await this.running(cur);
        await this.d.vms.unplugVolume(this.svc.vmRef(cur), { pool, volume, path: (await (await this.storage.driver(pool)).volumePath(volume)).path }, live);
      }
      // A container's volume is taken out of every mount namespace, running or not (a no-op when none has it).
      else if (cur.type === 'container' && v?.path) await this.svc.containers!.unplugVolume((await (await this.storage.driver(pool)).volumePath(volume)).path);
      await this.svc.patch(name, (now) => ({ volumes: (now.volumes ?? []).filter((v) => !(v.pool === pool && v.volume === volume)) }));
      await this.storage.release(pool, volume, name);
      return this.storage.volume(pool, volume);
    }, { locks: [`volume/${pool}/${volume}`] });
  }

  /** PATCH a volume: grow (live through QMP when its VM runs), rename (detached only), I/O limits (live). */
  async patchVolume(pool: string, volume: string, patch: VolumePatch) {
    const vol = await this.storage.volume(pool, volume);
    if (patch.name && patch.name !== volume) await this.storage.assertDetached(pool, volume, 'rename it');
    // QEMU resizes in whole 512-byte sectors: round up.
    const size = patch.size === undefined ? undefined : Math.ceil(parseSize(patch.size, 'size') / 512) * 512;
    if (size !== undefined && size < vol.size) throw invalid(`volume ${pool}/${volume} is ${vol.size} bytes: shrinking to ${size} is not supported, only growing`);
    return this.d.ops.start('storage.volume.update', `volume/${pool}/${volume}`, async () => {
      const holder = vol.attachedTo ? await this.svc.record(vol.attachedTo).catch(() => undefined) : undefined;
      // Only a VM grows live (QMP); a container's root quota (btrfs qgroup) changes under it as it runs.
      const live = holder?.type === 'vm' && (await this.running(holder)) ? this.svc.vmRef(holder) : undefined;
      const isRoot = holder?.root?.pool === pool && holder.root.volume === volume;
      const disk = isRoot ? 'root' : { pool, volume };
      if (size !== undefined && size > vol.size) {
        if (live) await this.d.vms.resizeVolume(live, disk, size);
        else await this.storage.grow(pool, volume, size);
        if (isRoot && holder.type === 'container') await this.svc.patch(holder.name, { disk: size }); // its --disk follows
      }
      if (patch.limits) {
        const meta = await this.storage.meta(pool, volume);
        const limits = { ...NO_LIMITS, ...meta.limits, ...patch.limits };
        if (live) await this.d.vms.setVolumeLimits(live, disk, limits);
        await this.storage.updateMeta(pool, volume, (m) => ({ ...m, limits: { ...NO_LIMITS, ...m.limits, ...patch.limits } }));
      }
      let name = volume;
      if (patch.name && patch.name !== volume) {
        await this.storage.rename(pool, volume, patch.name);
        name = patch.name;
      }
      return this.storage.volume(pool, name);
    });
  }
}
