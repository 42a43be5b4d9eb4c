import type { VolumePatch } from '../shared/storage-types.js';
import { conflict, invalid, notFound } from '../lib/errors.js';
import { projectOfRecord, type InstanceRecord } from './instance-record.js';
import { lockTarget } from '../store/keys.js';
import type { InstanceRepo } from './instance-repo.js';
import type { InstanceRuntime } from './instance-runtime.js';
import { NO_LIMITS, type StorageService } from './storage-service.js';
import { parseSize } from '../lib/validate.js';
import { checkMountPath } from '../drivers/compute/runc/volumes.js';
import type { OpContext } from './operations.js';

/** Volumes attached to instances: kept in the instance record, given to the instance by its driver (hot-plugged when it runs, plugged again at every start). */
export class InstanceVolumes {
  constructor(private runtime: InstanceRuntime, private repo: InstanceRepo, private storage: StorageService) {}

  private get d() {
    return this.runtime.d;
  }

  /** Attach a volume of the kind the instance's driver takes (block: a disk; filesystem: mounted at `path`); plugged at once when it runs. */
  async attach(project: string, name: string, pool: string, volume: string, path?: string) {
    const rec = await this.repo.record(project, name);
    const vol = await this.storage.volume(project, pool, volume);
    const caps = this.runtime.caps(rec);
    let mountPath: string | undefined;
    if (caps.volumeMountPath) {
      if (vol.kind !== caps.volumeKind) throw invalid(`volume ${pool}/${volume} is a ${vol.kind} volume: only ${caps.volumeKind} volumes attach to ${caps.kind === 'vm' ? 'VMs' : 'containers'}`);
      if (path === undefined) throw invalid(`give the path where ${pool}/${volume} is mounted in container ${rec.name} (--path)`);
      mountPath = checkMountPath(path, (rec.volumes ?? []).map((v) => v.path));
    } else {
      if (path !== undefined) throw invalid(`path is where a filesystem volume is mounted in a container; ${name} is a VM (the volume appears as a disk)`);
      if (vol.kind !== caps.volumeKind) throw invalid(`volume ${pool}/${volume} is a ${vol.kind} volume: only ${caps.volumeKind} volumes attach to ${caps.kind === 'vm' ? 'VMs' : 'containers'}`);
    }
    return this.claimed(rec, pool, volume, async (ctx) => {
      const cur = await this.repo.record(project, name);
      const live = await this.runtime.live(cur);
      ctx.progress(20, live ? 'plugging it into the running instance' : 'giving it to the instance');
      const spec = await this.runtime.volumeSpec(project, pool, volume, mountPath);
      const driver = this.runtime.driverOf(cur);
      const res = await driver.plugVolume(await this.runtime.specOf(cur), spec, live);
      try {
        // The id owner stays recorded even when the attach fails below: the files were shifted to it.
        if (res.idOwner !== undefined) await this.storage.updateMeta(project, pool, volume, (m) => ({ ...m, idOwner: res.idOwner }));
        const view = await this.storage.volume(project, pool, volume); // read before the record write, which is the last step
        await this.repo.patch(project, name, (now) => ({ volumes: [...(now.volumes ?? []), { pool, volume, ...(mountPath ? { path: mountPath } : {}) }] }));
        return view;
      } catch (e) {
        // Not recorded: the instance gives the volume back (the claim is released by claimed()).
        await driver.unplugVolume(this.runtime.refOf(cur), spec, live).catch(() => undefined);
        throw e;
      }
    });
  }

  /**
   * Claim the volume for the instance now (of concurrent requests exactly one wins, the others get a 409 at once),
   * then run `body` as the attach operation (locked on the instance and the volume); the claim is given back when
   * the body fails or never runs.
   */
  private async claimed<T>(rec: InstanceRecord, pool: string, volume: string, body: (ctx: OpContext) => Promise<T>) {
    const name = rec.name;
    const project = projectOfRecord(rec);
    await this.storage.claim(project, pool, volume, name);
    const release = () => this.storage.release(project, pool, volume, name);
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
        { locks: [lockTarget.volume(project, pool, volume)], notRun: release, lockAs: this.runtime.lockOf(rec), project },
      );
    } catch (e) {
      await release();
      throw e;
    }
  }

  /** For a forced volume delete: drop the volume from a STOPPED instance's record (Conflict while it runs). */
  forgetOnStopped(project: string, pool: string, volume: string): (instance: string) => Promise<void> {
    return async (instance) => {
      const rec = await this.repo.record(project, instance);
      if (rec.root?.pool === pool && rec.root.volume === volume) throw conflict(`volume ${pool}/${volume} is the root disk of ${instance}: delete the instance instead`);
      if (await this.runtime.live(rec)) throw conflict(`volume ${pool}/${volume} is in use by running instance ${instance}: detach it first`);
      await this.repo.patch(project, instance, (now) => ({ volumes: (now.volumes ?? []).filter((v) => !(v.pool === pool && v.volume === volume)) }));
    };
  }

  /** Mark every volume of a deleted instance as free again (the volumes themselves stay). */
  async releaseAll(rec: InstanceRecord): Promise<void> {
    for (const v of rec.volumes ?? []) await this.storage.release(projectOfRecord(rec), v.pool, v.volume, rec.name);
  }

  /** Detach a volume; unplugged live (the guest releases it) when the instance runs. */
  async detach(project: string, name: string, pool: string, volume: string) {
    const rec = await this.repo.record(project, name);
    const att = (rec.volumes ?? []).find((v) => v.pool === pool && v.volume === volume);
    if (!att) throw notFound(`volume ${pool}/${volume} on instance ${name}`);
    const driver = this.runtime.driverOf(rec);
    // Refused at once (409) while a process holds it; the operation re-checks as it unplugs.
    await driver.checkUnplugVolume(this.runtime.refOf(rec), await this.runtime.volumeSpec(project, pool, volume, att.path));
    return this.d.ops.start('instance.volume.detach', name, async () => {
      const cur = await this.repo.record(project, name);
      const v = (cur.volumes ?? []).find((x) => x.pool === pool && x.volume === volume);
      await driver.unplugVolume(this.runtime.refOf(cur), await this.runtime.volumeSpec(project, pool, volume, v?.path), await this.runtime.live(cur));
      await this.repo.patch(project, name, (now) => ({ volumes: (now.volumes ?? []).filter((v) => !(v.pool === pool && v.volume === volume)) }));
      await this.storage.release(project, pool, volume, name);
      return this.storage.volume(project, pool, volume);
    }, { locks: [lockTarget.volume(project, pool, volume)], lockAs: this.runtime.lockOf(rec), project });
  }

  /** PATCH a volume: grow (live where the driver can), rename (detached only), I/O limits (live where the driver can). */
  async patchVolume(project: string, pool: string, volume: string, patch: VolumePatch) {
    const vol = await this.storage.volume(project, pool, volume);
    if (patch.name && patch.name !== volume) await this.storage.assertDetached(project, pool, volume, 'rename it');
    // QEMU resizes in whole 512-byte sectors: round up.
    const size = patch.size === undefined ? undefined : Math.ceil(parseSize(patch.size, 'size') / 512) * 512;
    if (size !== undefined && size < vol.size) throw invalid(`volume ${pool}/${volume} is ${vol.size} bytes: shrinking to ${size} is not supported, only growing`);
    return this.d.ops.start('storage.volume.update', `volume/${pool}/${volume}`, async () => {
      const holder = vol.attachedTo ? await this.repo.record(project, vol.attachedTo).catch(() => undefined) : undefined;
      // Drivers with live disk resize grow it in the running instance; otherwise the pool grows it (a container's quota changes under it).
      const live = holder && this.runtime.caps(holder).liveDiskResize && (await this.runtime.live(holder)) ? holder : undefined;
      const isRoot = holder?.root?.pool === pool && holder.root.volume === volume;
      const disk = isRoot ? 'root' : { pool, volume };
      if (size !== undefined && size > vol.size) {
        // The disk quota is charged the new size first (a root's in its instance's charge); back if it does not grow.
        const owner = isRoot ? holder.uuid : undefined;
        await this.storage.chargeVolume(project, pool, volume, size, owner);
        try {
          if (live) await this.runtime.driverOf(live).resizeVolume(this.runtime.refOf(live), disk, size);
          else await this.storage.grow(project, pool, volume, size);
        } catch (e) {
          await this.storage.chargeVolume(project, pool, volume, vol.size, owner).catch(() => undefined);
          throw e;
        }
        if (isRoot) await this.repo.patch(project, holder.name, { disk: size }); // the instance's disk follows its root
      }
      if (patch.limits) {
        const meta = await this.storage.meta(project, pool, volume);
        const limits = { ...NO_LIMITS, ...meta.limits, ...patch.limits };
        if (live) await this.runtime.driverOf(live).setVolumeLimits(this.runtime.refOf(live), disk, limits);
        await this.storage.updateMeta(project, pool, volume, (m) => ({ ...m, limits: { ...NO_LIMITS, ...m.limits, ...patch.limits } }));
      }
      let name = volume;
      if (patch.name && patch.name !== volume) {
        await this.storage.rename(project, pool, volume, patch.name);
        name = patch.name;
      }
      return this.storage.volume(project, pool, name);
    }, { lockAs: lockTarget.volume(project, pool, volume), project });
  }
}
