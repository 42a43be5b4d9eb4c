import { rmSync } from 'node:fs';
import { stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { ActionName, InstanceAction } from '../shared/api-types.js';
import { conflict, invalid } from '../lib/errors.js';
import type { InstanceService } from './instance-service.js';
import type { InstanceRecord } from './instance-record.js';
import { instanceKey } from './instance-record.js';
import { CONTAINER_LOG_MAX } from './container-service.js';
import { releaseVmId } from './vm-ids.js';

const DEFAULT_STOP_TIMEOUT_S = 30;

/** Lifecycle actions (start, stop, restart, pause, resume, delete) and reconciliation with the host. */
export class InstanceActions {
  private poller?: NodeJS.Timeout;
  constructor(private svc: InstanceService) {}

  private get d() {
    return this.svc.d;
  }

  /** Run one lifecycle action as an Operation. */
  async act(name: string, action: ActionName, opts: InstanceAction = {}) {
    const rec = await this.svc.record(name);
    if (rec.state === 'creating') throw conflict(`instance ${name} is still being created`);
    const check = allowed(rec, action);
    if (check) throw conflict(check);
    return this.d.ops.start(`instance.${action}`, name, async (ctx) => {
      const cur = await this.svc.record(name);
      const runDir = this.d.paths.run(name);
      switch (action) {
        case 'start':
          if (cur.state === 'running') return this.svc.view(cur);
          await this.svc.patch(name, { state: 'starting' });
          await this.startOrError(cur);
          break;
        case 'stop':
          await this.halt(cur, opts);
          break;
        case 'restart':
          await this.halt(cur, opts);
          ctx.progress(50, 'starting');
          await this.svc.patch(name, { state: 'starting' });
          await this.startOrError(cur);
          break;
        case 'pause':
          await this.d.compute.pause(runDir);
          await this.svc.patch(name, { state: 'paused' });
          break;
        case 'resume':
          await this.d.compute.resume(runDir);
          await this.svc.patch(name, { state: 'running' });
          break;
      }
      return this.svc.view(await this.svc.record(name));
    });
  }

  private async startOrError(rec: InstanceRecord): Promise<void> {
    try {
      await this.svc.boot(rec);
      await this.svc.patch(rec.name, { state: 'running' });
    } catch (e) {
      await this.svc.patch(rec.name, { state: 'error', error: e instanceof Error ? e.message : String(e) });
      throw e;
    }
  }

  /** Stop: ACPI power-down with a timeout then a hard stop, or a hard stop at once with force. */
  private async halt(rec: InstanceRecord, opts: InstanceAction): Promise<void> {
    const runDir = this.d.paths.run(rec.name);
    if ((await this.d.compute.state(runDir)) !== 'stopped') {
      await this.svc.patch(rec.name, { state: 'stopping' });
      if (opts.force) await this.d.compute.kill(runDir);
      else await this.d.compute.shutdown(runDir, (opts.timeout ?? DEFAULT_STOP_TIMEOUT_S) * 1000);
    }
    this.d.consoles.detach(rec.name);
    await this.svc.patch(rec.name, { state: 'stopped' });
  }

  /** Delete an instance: refused while running unless forced; removes its VM, tap, disk, address and record. */
  async remove(name: string, force = false) {
    const rec = await this.svc.record(name);
    if (rec.state === 'creating') throw conflict(`instance ${name} is still being created`);
    const live = await this.d.compute.state(this.d.paths.run(name));
    if (live !== 'stopped' && !force) throw conflict(`instance ${name} is ${live}: stop it first or delete with --force`);
    return this.d.ops.start('instance.delete', name, async (ctx) => {
      const runDir = this.d.paths.run(name);
      if ((await this.d.compute.state(runDir)) !== 'stopped') await this.d.compute.kill(runDir);
      this.d.consoles.detach(name);
      ctx.progress(30, 'removing network');
      if (rec.type === 'container') {
        await this.svc.containers?.teardown(rec);
        if (rec.container) await this.svc.containers?.releaseIds(rec.container.hostId);
      }
      await releaseVmId(this.d.store, rec.qemuId);
      for (const nic of rec.nics) await this.d.network.deleteTap(nic.tap);
      await this.d.network.release(name);
      await this.svc.nics?.forwards.dropNic(name);
      await this.svc.volumes?.releaseAll(rec);
      await this.svc.snapshots?.forget(name);
      ctx.progress(60, 'removing disk');
      if (rec.root) await this.svc.dropRoot(rec.root);
      rmSync(this.d.paths.instance(name), { recursive: true, force: true });
      rmSync(runDir, { recursive: true, force: true });
      await this.d.store.delete(instanceKey(name));
      await this.svc.nics?.applyFirewall(); // its ports and forwards leave the ruleset
      this.d.events.publish('instance', name, { state: 'deleted' });
    });
  }

  /** Make the records match the host: re-adopt running VMs, mark vanished ones stopped. */
  async reconcile(): Promise<void> {
    for (const rec of await this.svc.records()) {
      const live = await this.d.compute.state(this.d.paths.run(rec.name));
      if (rec.state === 'creating') {
        if (live !== 'stopped') await this.d.compute.kill(this.d.paths.run(rec.name));
        await this.svc.patch(rec.name, { state: 'error', error: 'creation was interrupted by a daemon stop; delete and launch again' });
        continue;
      }
      if (live === 'running' || live === 'paused') {
        if (rec.type === 'vm') this.d.consoles.attach(rec.name, this.d.paths.run(rec.name));
        if (rec.state !== live) await this.svc.patch(rec.name, { state: live });
      } else if (rec.state !== 'stopped' && rec.state !== 'error') {
        this.d.consoles.detach(rec.name);
        await this.svc.patch(rec.name, { state: 'stopped' });
      }
    }
  }

  /** Poll the host every `ms` so a guest that powers itself off is seen as stopped. */
  watch(ms = 3000): void {
    this.poller = setInterval(() => {
      void this.pollOnce().catch((e) => this.d.log.warn({ err: String(e) }, 'state poll failed'));
    }, ms);
    this.poller.unref();
  }

  private async pollOnce(): Promise<void> {
    for (let rec of await this.svc.records()) {
      if (rec.state !== 'running' && rec.state !== 'paused') continue;
      const live = await this.d.compute.state(this.d.paths.run(rec.name));
      if (rec.type === 'container') {
        await trimLegacyLog(join(this.d.paths.run(rec.name), 'serial.log'));
        const kills = this.svc.containers?.oomKills(rec) ?? null;
        if (kills !== null && kills > (rec.container?.oomKills ?? 0) && rec.container) {
          this.d.log.warn({ instance: rec.name, oomKills: kills }, 'a process in the container was killed: out of memory');
          await this.svc.patch(rec.name, (now) => (now.container ? { container: { ...now.container, oomKills: kills } } : {}));
          this.d.events.publish('instance', rec.name, { oom: true, oomKills: kills });
        }
      }
      const app = rec.container?.app;
      const code = live === 'stopped' && app ? this.svc.containers?.exitCode(rec) ?? null : null;
      if (app && rec.container && live === 'stopped') {
        await this.svc.patch(rec.name, (now) => (now.container ? { container: { ...now.container, exitCode: code ?? 255 } } : {}));
        rec = await this.svc.record(rec.name);
      }
      const again = app && live === 'stopped' && (app.restart === 'always' || (app.restart === 'on-failure' && code !== 0));
      if (again) {
        // The application exited by itself (a requested stop sets the record to stopped first): start it again.
        this.d.log.info({ instance: rec.name, exitCode: code, policy: app.restart }, 'application exited; restarting');
        this.d.events.publish('instance', rec.name, { state: 'running', restarted: true, exitCode: code });
        await this.svc.boot(rec).catch(async (e: unknown) => this.svc.patch(rec.name, { state: 'error', error: `restart failed: ${String(e)}` }));
      } else if (live === 'stopped') {
        this.d.consoles.detach(rec.name);
        await this.svc.patch(rec.name, { state: 'stopped' });
      }
    }
  }

  stopWatching(): void {
    if (this.poller) clearInterval(this.poller);
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

/**
 * A container started by an older nimbo writes its log directly (no shim bounds it): once far past the
 * bound, empty it in place (the writer appends, so that is safe), off the event loop and without a copy.
 */
async function trimLegacyLog(file: string, max = CONTAINER_LOG_MAX): Promise<void> {
  try {
    if ((await stat(file)).size > 4 * max) await truncate(file, 0);
  } catch {
    /* no log yet */
  }
}
