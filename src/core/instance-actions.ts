import type { ActionName, InstanceAction } from '../shared/api-types.js';
import { conflict, invalid } from '../lib/errors.js';
import { projectOfRecord, type InstanceRecord } from './instance-record.js';
import type { InstanceRepo } from './instance-repo.js';
import type { InstanceRuntime } from './instance-runtime.js';
import type { InstanceViews } from './instance-view.js';
import type { InstanceLeftovers, NicsPort } from './instance-ports.js';
import type { InstanceProvisioner } from './instance-provision.js';
import { idPort } from './instance-ids.js';

const DEFAULT_STOP_TIMEOUT_S = 30;

/** Lifecycle actions (start, stop, restart, pause, resume, delete): each sets the desired power state, then does it through the driver. */
export class InstanceActions {
  constructor(
    private runtime: InstanceRuntime,
    private repo: InstanceRepo,
    private views: InstanceViews,
    private provisioner: Pick<InstanceProvisioner, 'dropRoot'>,
    private nics: Pick<NicsPort, 'applyFirewall'>,
    private leftovers: InstanceLeftovers,
  ) {}

  private get d() {
    return this.runtime.d;
  }

  /** Run one lifecycle action as an Operation. */
  async act(project: string, name: string, action: ActionName, opts: InstanceAction = {}) {
    const rec = await this.repo.record(project, name);
    if (rec.state === 'creating') throw conflict(`instance ${name} is still being created`);
    const check = allowed(rec, action);
    if (check) throw conflict(check);
    return this.d.ops.start(`instance.${action}`, name, async (ctx) => {
      const cur = await this.repo.record(project, name);
      const driver = this.runtime.driverOf(cur);
      switch (action) {
        case 'start':
          if (cur.state === 'running' && (await this.runtime.live(cur))) {
            await this.desire(project, name, 'running');
            return this.views.view(cur);
          }
          await this.desire(project, name, 'running', { state: 'starting' });
          await this.startOrError(cur);
          break;
        case 'stop':
          await this.desire(project, name, 'stopped');
          await this.halt(cur, opts);
          break;
        case 'restart':
          await this.desire(project, name, 'running');
          await this.halt(cur, opts);
          ctx.progress(50, 'starting');
          await this.repo.patch(project, name, { state: 'starting' });
          await this.startOrError(cur);
          break;
        case 'pause':
          await driver.pause(this.runtime.refOf(cur));
          await this.desire(project, name, 'paused', { state: 'paused' });
          break;
        case 'resume':
          await driver.resume(this.runtime.refOf(cur));
          await this.desire(project, name, 'running', { state: 'running' });
          break;
      }
      return this.views.view(await this.repo.record(project, name));
    }, { lockAs: this.runtime.lockOf(rec), project });
  }

  /** Set the desired power state (and `more`) of an instance, compare-and-swap. */
  desire(project: string, name: string, power: 'running' | 'stopped' | 'paused', more: Partial<InstanceRecord> = {}): Promise<InstanceRecord> {
    return this.repo.patch(project, name, (now) => ({ ...more, desired: { autostart: now.desired?.autostart ?? 'last-state', power } }));
  }

  /** Start through the driver; a failure leaves the record in state error with the reason. */
  async startOrError(rec: InstanceRecord): Promise<void> {
    try {
      await this.runtime.start(rec);
      await this.repo.patch(projectOfRecord(rec), rec.name, { state: 'running' });
    } catch (e) {
      await this.repo.patch(projectOfRecord(rec), rec.name, { state: 'error', error: e instanceof Error ? e.message : String(e) });
      throw e;
    }
  }

  /** Stop: ACPI power-down / stop signal with a timeout then a hard stop, or a hard stop at once with force. */
  async halt(rec: InstanceRecord, opts: InstanceAction): Promise<void> {
    if ((await this.runtime.status(rec)).state !== 'stopped') {
      await this.repo.patch(projectOfRecord(rec), rec.name, { state: 'stopping' });
      await this.runtime.driverOf(rec).stop(this.runtime.refOf(rec), { force: !!opts.force, timeoutMs: (opts.timeout ?? DEFAULT_STOP_TIMEOUT_S) * 1000 });
    }
    await this.repo.patch(projectOfRecord(rec), rec.name, { state: 'stopped' });
  }

  /** Delete an instance: refused while running unless forced; removes its host objects, root volume, addresses and record. */
  async remove(project: string, name: string, force = false) {
    const rec = await this.repo.record(project, name);
    if (rec.state === 'creating') throw conflict(`instance ${name} is still being created`);
    const live = (await this.runtime.status(rec)).state;
    if (live !== 'stopped' && !force) throw conflict(`instance ${name} is ${live}: stop it first or delete with --force`);
    return this.d.ops.start('instance.delete', name, async (ctx) => {
      const cur = await this.repo.record(project, name);
      const driver = this.runtime.driverOf(cur);
      const ref = this.runtime.refOf(cur);
      await this.repo.patch(project, name, (now) => ({ desired: { autostart: now.desired?.autostart ?? 'last-state', power: 'stopped' } }));
      if ((await this.runtime.status(cur)).state !== 'stopped') await driver.stop(ref, { force: true, timeoutMs: 0 });
      ctx.progress(30, 'removing host objects and network');
      // Attached volumes are taken back from it (a VM's file is owned by root again, not by the uid released below).
      for (const v of cur.volumes ?? []) await driver.unplugVolume(ref, await this.runtime.volumeSpec(project, v.pool, v.volume, v.path), false);
      const rootPath = cur.root ? (await this.runtime.volumeSpec(project, cur.root.pool, cur.root.volume).catch(() => undefined))?.path : undefined;
      await driver.destroy(ref, cur.nics, rootPath ? { path: rootPath } : undefined);
      await driver.release(ref, idPort(this.d.store, cur.uuid));
      for (const nic of cur.nics) await this.d.network.deleteTap(nic.tap);
      await this.d.network.release(project, name);
      await this.leftovers.dropForwards(project, name);
      await this.leftovers.releaseVolumes(cur);
      await this.leftovers.forgetSnapshots(project, name);
      ctx.progress(60, 'removing disk');
      if (cur.root) await this.provisioner.dropRoot(project, cur.root);
      if (cur.rescue) await this.provisioner.dropRoot(project, cur.rescue.root); // deleted in rescue: its rescue disk goes too
      await this.repo.delete(project, name);
      if (cur.slice) await this.runtime.repinShared(await this.repo.allRecords()); // its cores are shared again
      await this.nics.applyFirewall(); // its ports and forwards leave the ruleset
      this.d.events.publish('instance', name, { state: 'deleted' }, project);
    }, { lockAs: this.runtime.lockOf(rec), project });
  }
}

/** Why an action is not allowed in the record's state, or undefined. */
function allowed(rec: InstanceRecord, action: ActionName): string | undefined {
  const s = rec.state;
  if (action === 'pause' && s !== 'running') return `instance ${rec.name} is ${s}: only a running instance can be paused`;
  if (action === 'resume' && s !== 'paused') return `instance ${rec.name} is ${s}: only a paused instance can be resumed`;
  if (action === 'restart' && s === 'stopped') return undefined;
  if (!['start', 'stop', 'restart', 'pause', 'resume'].includes(action)) return String(invalid(`unknown action ${action}`).message);
  return undefined;
}
