// The reconciler: brings each instance to its desired power state at daemon start, after a host reboot,
// when a driver reports an exit, when the desired state changes in the store, and on a slow resync that
// only calls the drivers' cheap status(). One pass per instance at a time; a pass never waits for an
// operation's lock (the operation's end calls kick()).
import type { DriverEvent, InstanceStatus } from '../../drivers/compute/instance-driver.js';
import { readBootId } from '../../host/boot-id.js';
import type { Store } from '../../store/store.js';
import type { InstanceRecord } from '../instance-record.js';
import { appOf, decide, desiredOf, MAX_FAILED_STARTS, restartDelayMs, STABLE_RUN_MS, type Decision, type Why } from './desired.js';
import { PassQueue } from './pass-queue.js';
import type { BootSource, Pending, ReconcileHost } from './ports.js';

/** Store key of the boot id the reconciler last ran under (one host today; a cluster keys it per host). */
export const HOST_BOOT_KEY = '/hosts/local/boot';
const DEFAULT_RESYNC_MS = 60_000;
const DEFAULT_STOP_TIMEOUT_MS = 30_000;

/** The boot id from /proc, the last one kept in the store. */
export function storeBootSource(store: Store, read: () => Promise<string> = readBootId): BootSource {
  return {
    current: read,
    stored: async () => (await store.get<{ bootId: string }>(HOST_BOOT_KEY))?.value.bootId,
    save: async (bootId) => void (await store.put(HOST_BOOT_KEY, { bootId, at: new Date().toISOString() })),
  };
}

/** Reconciler settings (tests shorten the times). */
export interface ReconcilerOptions {
  boot: BootSource;
  resyncMs?: number;
  /** Retry after a skipped pass (an operation held the lock) in case nobody kicks (default 2 s). */
  lockRetryMs?: number;
  /** Backoff before the nth restart in a row (default restartDelayMs: 1 s, 2, 4 … 60 s). */
  backoff?: (failures: number) => number;
  stableRunMs?: number;
  /** Passes that run at once (a host boot starts every instance; default 8). */
  concurrency?: number;
  now?: () => number;
}

/** The observed fields a record carries besides its state. */
type Observed = InstanceRecord & { oomKills?: number; exitCode?: number; driverConfig?: unknown };

interface Loop {
  failures: number;
  startedAt?: number;
  notBefore?: number;
  lastError?: string;
}

/** Desired state, reconciled: see desired.ts for the rules. */
export class Reconciler {
  private readonly queue: PassQueue;
  private loops = new Map<string, Loop>();
  private desiredSeen = new Map<string, string>();
  /** uuid → the name it was last seen under (records are keyed by name). */
  private names = new Map<string, string>();
  private unsubscribe: (() => void)[] = [];
  private resync?: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(private host: ReconcileHost, private opts: ReconcilerOptions) {
    this.now = opts.now ?? Date.now;
    this.queue = new PassQueue(
      (uuid, p) => this.pass(uuid, p),
      (uuid, p, e) => host.log.warn({ uuid, why: p.why, err: e instanceof Error ? e.message : String(e) }, 'reconcile pass failed'),
      opts.concurrency ?? 8,
    );
  }

  /** Daemon start: one pass over every instance (as a host boot when the boot id changed), then the triggers. */
  async start(): Promise<{ hostBoot: boolean }> {
    const bootId = await this.opts.boot.current();
    const last = await this.opts.boot.stored();
    const why: Why = last !== undefined && last !== bootId ? 'host-boot' : 'daemon-start';
    if (why === 'host-boot') this.host.log.info({ last, now: bootId }, 'the host rebooted since the last daemon run: autostart policies apply');
    for (const d of this.host.drivers()) this.unsubscribe.push(d.watch((ev) => this.onEvent(ev)));
    this.unsubscribe.push(this.host.watch((ev) => ev.record && this.onRecord(ev.record)));
    const records = await this.host.records();
    for (const rec of records) {
      this.desiredSeen.set(rec.uuid, JSON.stringify(rec.desired ?? null));
      this.names.set(rec.uuid, rec.name);
    }
    for (const rec of records) this.enqueue(rec.uuid, { why });
    await this.idle();
    // Saved only after the pass: a daemon killed during it takes the next start as a host boot again (idempotent).
    await this.opts.boot.save(bootId);
    this.resync = setInterval(() => void this.resyncAll(), this.opts.resyncMs ?? DEFAULT_RESYNC_MS);
    this.resync.unref();
    return { hostBoot: why === 'host-boot' };
  }

  /** Look at one instance again soon (an operation on it ended, or its desired state changed). */
  kick(uuid: string, why: Why = 'event'): void {
    this.enqueue(uuid, { why });
  }

  /** Resolves once no pass is running or queued (timers for later retries aside). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** Stop every trigger and timer (daemon shutdown). */
  close(): void {
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.resync) clearInterval(this.resync);
    this.queue.close();
  }

  private onEvent(ev: DriverEvent): void {
    this.enqueue(ev.uuid, { why: 'event', event: ev });
  }

  private onRecord(rec: InstanceRecord): void {
    const uuid = rec.uuid;
    this.names.set(uuid, rec.name);
    const key = JSON.stringify(rec.desired ?? null);
    const seen = this.desiredSeen.get(uuid);
    this.desiredSeen.set(uuid, key);
    if (seen !== undefined && seen !== key) this.enqueue(uuid, { why: 'event' });
  }

  /** Drop what is kept about an instance that is gone. */
  private forget(uuid: string): void {
    this.desiredSeen.delete(uuid);
    this.names.delete(uuid);
    this.loops.delete(uuid);
    this.queue.drop(uuid);
  }

  private async resyncAll(): Promise<void> {
    try {
      const records = await this.host.records();
      const alive = new Set(records.map((r) => r.uuid));
      for (const uuid of this.names.keys()) if (!alive.has(uuid)) this.forget(uuid);
      for (const rec of records) {
        this.names.set(rec.uuid, rec.name);
        if (rec.state !== 'creating') this.enqueue(rec.uuid, { why: 'resync' });
      }
    } catch (e) {
      this.host.log.warn({ err: String(e) }, 'reconcile resync failed');
    }
  }

  private enqueue(uuid: string, p: Pending): void {
    this.queue.enqueue(uuid, p);
  }

  private async pass(uuid: string, p: Pending): Promise<void> {
    const first = await this.host.record(uuid, this.names.get(uuid));
    if (!first) return this.forget(uuid);
    this.names.set(uuid, first.name);
    // The slow resync looks first without the lock (no store write): most instances are as they should be.
    if (p.why === 'resync' && (await this.settled(first))) return;
    const release = await this.host.tryLock(first);
    if (!release) {
      // An operation has the instance; its end kicks us. Keep the event (it says whether an exit was requested).
      this.host.log.debug({ instance: first.name, why: p.why }, 'reconcile skipped: an operation holds the instance');
      this.queue.later(uuid, this.opts.lockRetryMs ?? 2000, p);
      return;
    }
    try {
      const rec = await this.host.record(uuid, first.name);
      if (rec) await this.passLocked(rec, p);
    } finally {
      await release();
    }
  }

  /** True when a resync would change nothing: no action, nothing to write, no new OOM kill or exit code. */
  private async settled(rec: InstanceRecord): Promise<boolean> {
    const status = await this.host.driverOf(rec).status(this.host.refOf(rec));
    const seen = rec as Observed;
    if (status.oomKills != null && status.oomKills > (seen.oomKills ?? rec.container?.oomKills ?? 0)) return false;
    if (appOf(seen) && status.state === 'stopped' && status.exitCode !== undefined && (status.exitCode ?? 255) !== (seen.exitCode ?? rec.container?.exitCode)) return false;
    const d = decide(rec, status, 'resync');
    const loop = this.loops.get(rec.uuid);
    return d.action === 'none' && d.state === undefined && d.power === undefined && !(loop && loop.failures > 0 && status.state === 'running');
  }

  private async passLocked(rec: InstanceRecord, p: Pending): Promise<void> {
    const driver = this.host.driverOf(rec);
    const ref = this.host.refOf(rec);
    const status = await driver.status(ref);
    rec = await this.counters(rec, status);
    const d = decide(rec, status, p.why, p.event);
    if (d.action !== 'none') this.host.log.info({ instance: rec.name, action: d.action, why: p.why, reason: d.reason }, 'reconcile');
    const loop = this.loops.get(rec.uuid);
    if (loop && rec.state !== 'error' && loop.failures >= MAX_FAILED_STARTS) this.loops.delete(rec.uuid); // the user started it again
    switch (d.action) {
      case 'none':
        await this.write(rec, d);
        if (status.state !== 'stopped' && (p.why === 'daemon-start' || p.why === 'host-boot')) await driver.adopt(ref);
        if (status.state === 'running' && loop?.startedAt !== undefined && this.now() - loop.startedAt >= (this.opts.stableRunMs ?? STABLE_RUN_MS)) this.loops.delete(rec.uuid);
        return;
      case 'mark-error':
        if (status.state !== 'stopped') await driver.stop(ref, { timeoutMs: 0, force: true });
        await this.write(rec, d);
        return;
      case 'mark-stopped':
        this.loops.delete(rec.uuid);
        await this.write(rec, d);
        return;
      case 'stop':
        await this.write(rec, d);
        await driver.stop(ref, { timeoutMs: DEFAULT_STOP_TIMEOUT_MS, force: false });
        await this.write(rec, { state: 'stopped' });
        return;
      case 'pause':
        await driver.pause(ref);
        await this.write(rec, { state: 'paused' });
        return;
      case 'resume':
        await driver.resume(ref);
        await this.write(rec, { state: 'running' });
        return;
      case 'start':
        return this.restart(rec, d);
    }
  }

  /** Start with crash-loop protection: backoff between restarts in a row, 'error' after MAX_FAILED_STARTS. */
  private async restart(rec: InstanceRecord, d: Decision): Promise<void> {
    const now = this.now();
    const loop = this.loops.get(rec.uuid) ?? { failures: 0 };
    this.loops.set(rec.uuid, loop);
    if (loop.startedAt !== undefined) {
      // It stopped again after our last start: soon after, that start counts as failed.
      const ran = now - loop.startedAt;
      if (ran < (this.opts.stableRunMs ?? STABLE_RUN_MS)) {
        loop.failures++;
        loop.lastError = `it stopped ${(ran / 1000).toFixed(1)} s after a restart`;
        loop.notBefore = now + (this.opts.backoff ?? restartDelayMs)(loop.failures);
      } else loop.failures = 0;
      loop.startedAt = undefined;
    }
    if (loop.failures >= MAX_FAILED_STARTS) {
      await this.write(rec, { state: 'error', error: loop.lastError ?? 'restart failed' });
      this.host.log.warn({ instance: rec.name, failures: loop.failures, err: loop.lastError }, 'restarting failed too often: left in error');
      return;
    }
    if (d.power) rec = await this.write(rec, { power: d.power });
    if (loop.notBefore !== undefined && now < loop.notBefore) {
      this.queue.later(rec.uuid, loop.notBefore - now, { why: 'event' });
      return;
    }
    try {
      await this.host.start(rec);
      loop.startedAt = this.now();
      await this.write(rec, { state: 'running', error: undefined });
      this.host.publish(rec, { state: 'running', restarted: true });
    } catch (e) {
      loop.failures++;
      loop.lastError = e instanceof Error ? e.message : String(e);
      loop.notBefore = this.now() + (this.opts.backoff ?? restartDelayMs)(loop.failures);
      this.host.log.warn({ instance: rec.name, failures: loop.failures, err: loop.lastError }, 'restart failed');
      if (loop.failures >= MAX_FAILED_STARTS) await this.write(rec, { state: 'error', error: loop.lastError });
      else {
        await this.write(rec, { state: 'stopped' });
        this.queue.later(rec.uuid, loop.notBefore - this.now(), { why: 'event' });
      }
    }
  }

  /** OOM kills and an application's exit code (observed fields of the record; version-1 records kept them in `container`). */
  private async counters(rec: InstanceRecord, s: InstanceStatus): Promise<InstanceRecord> {
    const seen = rec as Observed;
    const kills = s.oomKills;
    if (kills != null && kills > (seen.oomKills ?? rec.container?.oomKills ?? 0)) {
      this.host.log.warn({ instance: rec.name, oomKills: kills }, 'a process in the container was killed: out of memory');
      rec = (await this.host.patch(rec, () => ({ oomKills: kills }) as Partial<Observed>)) ?? rec;
      this.host.publish(rec, { oom: true, oomKills: kills });
    }
    if (appOf(seen) && s.state === 'stopped' && s.exitCode !== undefined) {
      const code = s.exitCode ?? 255;
      if (code !== (seen.exitCode ?? rec.container?.exitCode)) rec = (await this.host.patch(rec, () => ({ exitCode: code }) as Partial<Observed>)) ?? rec;
    }
    return rec;
  }

  /** Write the observed state / desired power / error of a decision (nothing when nothing changes). */
  private async write(rec: InstanceRecord, d: Pick<Partial<Decision>, 'state' | 'power' | 'error'>): Promise<InstanceRecord> {
    if (d.state === undefined && d.power === undefined && !('error' in d)) return rec;
    const next = await this.host.patch(rec, (cur) => {
      const out: Partial<InstanceRecord> = {};
      if (d.state !== undefined && cur.state !== d.state) out.state = d.state;
      if (d.power !== undefined && (cur.desired?.power !== d.power || !cur.desired)) {
        out.desired = { ...desiredOf(cur), power: d.power };
        this.desiredSeen.set(cur.uuid, JSON.stringify(out.desired)); // our own write: the store watch must not echo it
      }
      if ('error' in d && cur.error !== d.error) out.error = d.error;
      return Object.keys(out).length ? out : undefined;
    });
    return next ?? rec;
  }
}
