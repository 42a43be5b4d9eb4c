// Rebuild, rescue and unrescue: actions that give an instance another root while keeping everything else
// (UUID, name, NICs with their MACs and addresses, SSH keys, password hash, attached volumes). The new root
// is made by the provisioner and its driver (clone or filesystem, as the driver's capabilities say); the old
// root is kept until the new one is ready and booted, and every step's undo is on a reverter.
import { randomBytes } from 'node:crypto';
import { conflict, invalid } from '../lib/errors.js';
import { Reverter } from '../lib/reverter.js';
import type { Operation } from '../shared/api-types.js';
import { keys } from '../store/keys.js';
import { rootVolumeOf } from './host-ids.js';
import type { InstanceRecord } from './instance-record.js';
import { driverNameOf, projectOfRecord } from './instance-record.js';
import type { VpsActionDeps } from './vps-action-deps.js';
import { actionResult } from './vps-action-result.js';
import type { RootFill } from './instance-provision.js';
import type { OpContext } from './operations.js';

/** The built-in image a rescue boots by default: busybox on Debian's kernel, with virtio-blk, so it sees the second disk. */
export const DEFAULT_RESCUE_IMAGE = 'tiny';

/** Root swaps of instances. */
export class VpsRootSwap {
  constructor(private d: Pick<VpsActionDeps, 'runtime' | 'repo' | 'views' | 'provisioner' | 'actions'>) {}

  private get base() {
    return this.d.runtime.d;
  }

  /** An image a root can be made from, checked before the Operation (404 unknown, 400 application image or too big a disk). */
  private async checkImage(rec: InstanceRecord, image: string): Promise<void> {
    const img = await this.base.images.forLaunch(image);
    if (img.oci) throw invalid(`image ${image} is an OCI application image: a root is made from a system image`);
    if (img.iso) throw invalid(`image ${image} is an ISO (an installer CD), not a disk image: a root is made from a disk image`);
    if (this.d.runtime.caps(rec).root === 'image-clone' && rec.disk < img.virtualSizeBytes) {
      throw invalid(`image ${image} (${img.virtualSizeBytes} bytes) does not fit instance ${rec.name}'s disk (${rec.disk} bytes): resize it first`);
    }
  }

  /** rebuild: a new root from `image`; stopped first and started again if it ran; on failure the old root is back. */
  async rebuild(project: string, name: string, image: string): Promise<Operation> {
    const rec = await this.d.repo.record(project, name);
    if (!rec.root) throw conflict(`instance ${name} has no root volume`);
    if ((await this.base.store.list(keys.snapshots(project, name))).length) throw conflict(`instance ${name} has snapshots of its current root: delete them before a rebuild`);
    image = await this.base.images.resolve(project, image);
    await this.checkImage(rec, image);
    return this.swap(rec, 'instance.rebuild', `rebuilt ${name} from ${image}`, { image }, async (ctx) => {
      await this.base.images.ensure(image, (p, m) => ctx.progress(p * 0.3, m && `image ${image}: ${m}`), ctx.signal);
    });
  }

  /**
   * Replace an instance's root with one restored from a backup (`fill`), keeping everything else; stopped first,
   * started again if it ran (or when `start`); on failure the old root is back. The instance's snapshots of the
   * old root go with it.
   */
  async replaceRoot(project: string, name: string, req: { kind: string; what: string; fill: RootFill; start?: boolean }): Promise<Operation> {
    const rec = await this.d.repo.record(project, name);
    if (!rec.root) throw conflict(`instance ${name} has no root volume`);
    if (rec.rescue) throw conflict(`instance ${name} is in rescue: unrescue it first`);
    if ((await this.base.store.list(keys.snapshots(project, name))).length) throw conflict(`instance ${name} has snapshots of its current root: delete them before restoring over it`);
    return this.swap(rec, req.kind, `restored ${name} from ${req.what}`, { fill: req.fill, start: req.start });
  }

  /** The one root swap of rebuild and restore. */
  private async swap(rec: InstanceRecord, kind: string, done: string, src: { image?: string; fill?: RootFill; start?: boolean }, before?: (ctx: OpContext) => Promise<void>): Promise<Operation> {
    const project = projectOfRecord(rec);
    const name = rec.name;
    return this.base.ops.start(kind, name, async (ctx) => {
      await before?.(ctx);
      const cur = await this.d.repo.record(project, name);
      const old = cur.root!;
      const image = src.image ?? cur.image;
      const oldPath = (await this.d.runtime.specOf(cur)).root.path;
      const r = new Reverter(this.base.log, { instance: name, action: kind });
      try {
        const wasLive = await this.stopFirst(cur, r);
        ctx.progress(40, src.fill ? 'restoring the root' : `making a new root from ${image}`);
        const volume = `${rootVolumeOf(cur.uuid)}-${randomBytes(3).toString('hex')}`;
        const root = await this.d.provisioner.freshRoot(cur, image, old.pool, volume, r, src.fill);
        await this.putState(cur, src.fill, r);
        await this.d.repo.patch(project, name, { root, image });
        r.add('the old root back in the record', () => this.d.repo.patch(project, name, { root: old, image: cur.image }));
        if (wasLive || src.start) {
          ctx.progress(80, 'starting');
          await this.startSwapped(project, name, r);
        }
        r.success();
      } catch (e) {
        await r.revert();
        throw e;
      }
      // Committed: the old root goes. A failure here leaves a stray volume (logged), not a broken instance.
      const next = await this.d.repo.record(project, name);
      let note = '';
      try {
        await this.d.runtime.driverOf(next).removeRoot(this.d.runtime.refOf(next), { path: oldPath });
        await this.d.provisioner.dropRoot(project, old);
      } catch (e) {
        this.base.log.warn({ instance: name, volume: `${old.pool}/${old.volume}`, err: String(e) }, `removing the old root after ${kind} failed`);
        note = `; the old root volume ${old.pool}/${old.volume} could not be removed: ${e instanceof Error ? e.message : String(e)}`;
      }
      if (kind !== 'instance.rebuild') return this.d.views.view(next);
      return actionResult(this.d.views, 'rebuild', 'now', `${done}${note}`, next);
    }, { lockAs: this.d.runtime.lockOf(rec), project });
  }

  /** A restore: the backup's state files (a VM's UEFI vars, TPM state) replace the instance's; the undo puts the old ones back. */
  private async putState(rec: InstanceRecord, fill: RootFill | undefined, r: Reverter): Promise<void> {
    const driver = this.d.runtime.driverOf(rec);
    const files = fill?.state ? await fill.state() : [];
    if (!files.length || !driver.importState || !driver.exportState) return;
    const ref = this.d.runtime.refOf(rec);
    const old = await driver.exportState(ref);
    await driver.importState(ref, files);
    r.add('the old VM state back', () => driver.importState!(ref, old));
  }

  /** rescue: boot `image` from a fresh rescue root with the instance's own root as its second disk (drivers with block roots only). */
  async rescue(project: string, name: string, image: string): Promise<Operation> {
    const rec = await this.d.repo.record(project, name);
    if (!rec.root) throw conflict(`instance ${name} has no root volume`);
    const caps = this.d.runtime.caps(rec);
    if (caps.root !== 'image-clone' || caps.volumeKind !== 'block') {
      throw conflict(`instance ${name} runs on the ${driverNameOf(rec)} driver, whose root is a filesystem, not a disk a rescue system can attach: rescue is refused (use exec or the console)`);
    }
    if (rec.rescue) throw conflict(`instance ${name} is in rescue already`);
    image = await this.base.images.resolve(project, image);
    await this.checkImage(rec, image);
    return this.base.ops.start('instance.rescue', name, async (ctx) => {
      await this.base.images.ensure(image, (p, m) => ctx.progress(p * 0.3, m && `image ${image}: ${m}`), ctx.signal);
      const cur = await this.d.repo.record(project, name);
      const r = new Reverter(this.base.log, { instance: name, action: 'rescue' });
      try {
        const wasLive = await this.stopFirst(cur, r);
        ctx.progress(40, `making the rescue root from ${image}`);
        const root = await this.d.provisioner.freshRoot(cur, image, cur.root!.pool, `rescue-${cur.uuid}`, r);
        await this.d.repo.patch(project, name, { rescue: { image, root, since: new Date().toISOString() } });
        r.add('out of rescue in the record', () => this.d.repo.patch(project, name, { rescue: undefined }));
        await this.d.actions.desire(project, name, 'running', { state: 'starting' });
        r.add('desired power as before', () => this.d.actions.desire(project, name, wasLive ? 'running' : 'stopped', { state: 'stopped' }));
        ctx.progress(70, 'booting the rescue system');
        await this.startSwapped(project, name, r, true);
        r.success();
      } catch (e) {
        await r.revert();
        throw e;
      }
      const next = await this.d.repo.record(project, name);
      return actionResult(this.d.views, 'rescue', 'now', `${name} runs the rescue system ${image}; its own root is its second disk`, next);
    }, { lockAs: this.d.runtime.lockOf(rec), project });
  }

  /** unrescue: stop the rescue system, drop its root, boot the instance's own root again. */
  async unrescue(project: string, name: string): Promise<Operation> {
    const rec = await this.d.repo.record(project, name);
    if (!rec.rescue) throw conflict(`instance ${name} is not in rescue`);
    return this.base.ops.start('instance.unrescue', name, async (ctx) => {
      const cur = await this.d.repo.record(project, name);
      const rescue = cur.rescue!;
      const driver = this.d.runtime.driverOf(cur);
      const ref = this.d.runtime.refOf(cur);
      const spec = await this.d.runtime.specOf(cur);
      const wasLive = await this.d.runtime.live(cur);
      ctx.progress(10, 'stopping the rescue system');
      await this.d.actions.halt(cur, {});
      // The own root leaves the rescue system (a VM's disk is root's again until its own start takes it).
      await driver.unplugVolume(ref, spec.volumes[0]!, false);
      await this.d.repo.patch(project, name, { rescue: undefined });
      await driver.removeRoot(ref, { path: spec.root.path });
      await this.d.provisioner.dropRoot(project, rescue.root);
      if (wasLive) {
        ctx.progress(60, 'starting from its own root');
        await this.d.actions.startOrError(await this.d.repo.patch(project, name, { state: 'starting' }));
      }
      return actionResult(this.d.views, 'unrescue', 'now', `${name} runs from its own root again`, await this.d.repo.record(project, name));
    }, { lockAs: this.d.runtime.lockOf(rec), project });
  }

  /** Start on the swapped root; its undo (also after a start that failed half-way) stops it hard and, in rescue, takes the own root back. */
  private async startSwapped(project: string, name: string, r: Reverter, rescue = false): Promise<void> {
    const rec = await this.d.repo.record(project, name);
    const driver = this.d.runtime.driverOf(rec);
    const ref = this.d.runtime.refOf(rec);
    const own = rescue ? (await this.d.runtime.specOf(rec)).volumes[0] : undefined;
    r.add('stop the swapped root', async () => {
      if (await this.d.runtime.live(rec)) await driver.stop(ref, { force: true, timeoutMs: 0 });
      if (own) await driver.unplugVolume(ref, own, false);
    });
    await this.d.actions.startOrError(rec);
  }

  /** Stop a live instance (graceful, then hard after the default timeout); its undo starts it again. Returns whether it was live. */
  private async stopFirst(rec: InstanceRecord, r: Reverter): Promise<boolean> {
    if (!(await this.d.runtime.live(rec))) return false;
    try {
      await this.d.actions.halt(rec, {});
    } catch (e) {
      // Still running: the record says so again, not 'stopping'; stopped after all: it runs again, as it did.
      const undo = (await this.d.runtime.live(rec).catch(() => true))
        ? this.d.repo.patch(projectOfRecord(rec), rec.name, { state: rec.state })
        : this.d.repo.record(projectOfRecord(rec), rec.name).then((cur) => this.d.actions.startOrError(cur));
      await undo.catch((u: unknown) => this.base.log.warn({ instance: rec.name, err: String(u) }, 'undoing a failed stop failed'));
      throw e;
    }
    r.add('start it again', async () => this.d.actions.startOrError(await this.d.repo.record(projectOfRecord(rec), rec.name)));
    return true;
  }
}
