// PATCH of an instance: description, labels, autostart (any time), CPUs and memory (stopped only), and rename.
// A rename moves the record and every record that names the instance in ONE store transaction, under the
// instance's store lock (so it is serialized with operations on it); host objects never change, because they
// come from the record's pinned host ids, never from the name.
import { randomUUID } from 'node:crypto';
import { conflict, invalid, notFound, NimboError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { parseBoundedSize, validateName } from '../lib/validate.js';
import type { HostIds } from '../drivers/compute/instance-driver.js';
import type { InstancePatch } from '../shared/api-types.js';
import { casUpdate } from '../store/cas.js';
import { keys, lockTarget } from '../store/keys.js';
import type { Store } from '../store/store.js';
import type { HeldLock, LockHolder } from './locks.js';
import { projectOfRecord, type InstanceRecord } from './instance-record.js';
import { LIMITS } from './instance-service.js';
import { validateLabels } from './labels.js';
import { AUTOSTART } from './records/instance-schema.js';
import { referenceMoves, renameTxn } from './instance-rename-txn.js';
import type { QuotaPort } from './deps.js';
import type { Counts } from './quota/quota.js';

const MiB = 1024 ** 2;

/** How long a rename or a CPU/memory change waits for an operation on the instance before it answers 409. */
export const BUSY_WAIT_MS = 5000;
/** Most characters of a description. */
export const MAX_DESCRIPTION = 1024;
/** Most CPUs of an instance (as at create). */
export const MAX_CPUS = 64;

/** What InstanceUpdate is built from (small ports; no service classes). */
export interface InstanceUpdatePorts {
  store: Store;
  /** Store locks (core/locks.ts StoreLocks). */
  locks: { acquire(key: string, holder: LockHolder, signal?: AbortSignal): Promise<HeldLock>; release(lock: HeldLock): Promise<void> };
  /** Hand a network's reservations to DHCP/DNS again (the hostnames changed). */
  refreshNetwork(project: string, network: string): Promise<void>;
  /** Render and apply the whole firewall policy. */
  applyFirewall(): Promise<void>;
  publish(type: string, target: string, data: unknown, project?: string): void;
  /** The host ids a record without pinned ones was made with (core/host-ids.ts legacyHostIds). */
  legacyHostIds(name: string): HostIds;
  /** Lock targets that guard an instance (operations lock them too); default: instance/<uuid>. */
  lockTargets?(rec: InstanceRecord): string[];
  log: Logger;
  /** This daemon run (written into the locks it holds). */
  daemonId: string;
  /** How long to wait for a busy instance (tests shorten it). */
  busyWaitMs?: number;
  /** Project quotas: a CPU or memory change moves the instance's charge (core/quota/admission.ts); absent: not counted. */
  quota?: Pick<QuotaPort, 'recharge'>;
}

/** Validated field changes of a PATCH (everything but the name). */
type FieldChange = Partial<Pick<InstanceRecord, 'description' | 'labels' | 'cpus' | 'memory'>> & { autostart?: (typeof AUTOSTART)[number] };

/** PATCH /instances/{name}: changes recorded in the store (compare-and-swap), rename in one transaction. */
export class InstanceUpdate {
  constructor(private p: InstanceUpdatePorts) {}

  /** Apply a PATCH; returns the updated record (under its new name after a rename). Refused requests change nothing. */
  async patch(project: string, name: string, req: InstancePatch): Promise<InstanceRecord> {
    const change = validatePatch(req);
    const to = req.name !== undefined && req.name !== name ? validateName(req.name, 'instance name') : undefined;
    const cur = await this.record(project, name);
    if (to === undefined && Object.keys(change).length === 0) return cur; // nothing to change: nothing written
    if (change.cpus !== undefined || change.memory !== undefined) assertStopped(cur);
    // Description, labels and autostart alone are plain compare-and-swap writes: no need to wait for an operation.
    if (to === undefined && change.cpus === undefined && change.memory === undefined) return this.write(project, name, change);
    return this.locked(cur, async () => {
      if (to === undefined) return this.write(project, name, change);
      // New CPUs or memory are charged by write(); the rename then moves the record as it is.
      if ((change.cpus !== undefined || change.memory !== undefined) && this.p.quota) {
        await this.write(project, name, change);
        return this.move(project, name, to, {});
      }
      return this.move(project, name, to, change);
    });
  }

  /**
   * A live CPU/memory grow of a running instance: under its store locks, the new size is charged to the project's
   * quota first (QuotaExceeded changes nothing), `apply` changes the running instance and returns what it has now,
   * and that is recorded (so a restart boots with it). A failed apply gives the charge back.
   */
  async growLive(project: string, name: string, change: { cpus?: number; memory?: number }, apply: (rec: InstanceRecord) => Promise<{ cpus: number; memory: number }>): Promise<InstanceRecord> {
    const cur = await this.record(project, name);
    return this.locked(cur, async () => {
      const before = await this.record(project, name);
      if (before.state !== 'running' && before.state !== 'paused') throw conflict(`instance ${name} is ${before.state}: it grows live only while it runs`);
      const charge = (rec: Pick<InstanceRecord, 'cpus' | 'memory'>) => (c: Counts | undefined) => c && { ...c, vcpus: rec.cpus, memoryMiB: Math.ceil(rec.memory / MiB) };
      const want = { cpus: change.cpus ?? before.cpus, memory: change.memory ?? before.memory };
      if (this.p.quota) await this.p.quota.recharge(before.uuid, project, charge(want));
      let got: { cpus: number; memory: number };
      try {
        got = await apply(before);
      } catch (e) {
        if (this.p.quota) await this.p.quota.recharge(before.uuid, project, charge(before)).catch(() => undefined);
        throw e;
      }
      if (this.p.quota && (got.cpus !== want.cpus || got.memory !== want.memory)) await this.p.quota.recharge(before.uuid, project, charge(got)).catch(() => undefined);
      const res = await casUpdate<InstanceRecord>(this.p.store, keys.instance(project, name), (rec) => {
        if (!rec) throw notFound(`instance ${name}`);
        return { ...rec, cpus: got.cpus, memory: got.memory };
      });
      const rec = res!.value;
      this.p.publish('instance', name, { state: rec.state, updated: ['cpus', 'memory'] }, project);
      return rec;
    });
  }

  /** Rename an instance (a PATCH with only a name). */
  rename(project: string, name: string, to: string): Promise<InstanceRecord> {
    return this.patch(project, name, { name: to });
  }

  /** The rename transaction, retried while a record that names the instance changes under it; 409 on a taken name. */
  private async move(project: string, name: string, to: string, change: FieldChange): Promise<InstanceRecord> {
    for (let attempt = 0; ; attempt++) {
      const kv = await this.p.store.get<InstanceRecord>(keys.instance(project, name));
      if (!kv) throw notFound(`instance ${name}`);
      if (change.cpus !== undefined || change.memory !== undefined) assertStopped(kv.value);
      const next = applyChange({ ...kv.value, name: to, hostIds: kv.value.hostIds ?? this.p.legacyHostIds(name) }, change);
      const txn = await renameTxn(this.p.store, { project, from: name, to, record: next, revision: kv.modRevision });
      if (await this.p.store.txn(txn.compares, txn.ops)) {
        await this.sweep(project, name, to);
        this.p.publish('instance', name, { state: 'deleted', renamedTo: to }, project);
        this.p.publish('instance', to, { state: next.state, renamedFrom: name }, project);
        await this.refreshHost(next);
        return next;
      }
      if (await this.p.store.get(keys.instance(project, to))) throw conflict(`instance ${to} already exists`);
      // A record that names the instance changed since it was read (a snapshot, an address): read again.
      if (attempt >= 10) throw conflict(`instance ${name} kept changing while it was renamed; try again`);
    }
  }

  /**
   * References to the old name created while the rename was planned (new keys, which a txn cannot compare) were
   * written before the commit, so they are this instance's: move them too. Later ones may be a new instance's.
   */
  private async sweep(project: string, from: string, to: string): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const committed = (await this.p.store.get(keys.instance(project, to)))?.createRevision;
      if (committed === undefined) return; // renamed again or deleted meanwhile: nothing of ours to move
      const late = await referenceMoves(this.p.store, project, from, to, committed);
      if (late.ops.length === 0 || (await this.p.store.txn(late.compares, late.ops))) return;
    }
    this.p.log.warn({ from, to }, 'records naming a renamed instance kept changing; some may still name the old name');
  }

  private async record(project: string, name: string): Promise<InstanceRecord> {
    const kv = await this.p.store.get<InstanceRecord>(keys.instance(project, name));
    if (!kv) throw notFound(`instance ${name}`);
    return kv.value;
  }

  /**
   * Field changes as one compare-and-swap (the stopped check re-made on each try). New CPUs or memory are
   * charged to the project's quota first (QuotaExceeded changes nothing) and given back if the write fails.
   */
  private async write(project: string, name: string, change: FieldChange): Promise<InstanceRecord> {
    const sized = change.cpus !== undefined || change.memory !== undefined;
    const before = sized ? await this.record(project, name) : undefined;
    if (before?.slice) throw conflict(`instance ${name} has dedicated cores: its CPUs and memory change only with its plan (not yet supported for dedicated plans)`);
    const charge = (rec: Pick<InstanceRecord, 'cpus' | 'memory'>) => (cur: Counts | undefined) => cur && { ...cur, vcpus: rec.cpus, memoryMiB: Math.ceil(rec.memory / MiB) };
    if (before && this.p.quota) await this.p.quota.recharge(before.uuid, project, charge(applyChange(before, change)));
    let res: Awaited<ReturnType<typeof casUpdate<InstanceRecord>>>;
    try {
      res = await casUpdate<InstanceRecord>(this.p.store, keys.instance(project, name), (cur) => {
        if (!cur) throw notFound(`instance ${name}`);
        if (sized) assertStopped(cur);
        return applyChange(cur, change);
      });
    } catch (e) {
      if (before && this.p.quota) await this.p.quota.recharge(before.uuid, project, charge(before)).catch(() => undefined);
      throw e;
    }
    const rec = res!.value;
    this.p.publish('instance', name, { state: rec.state, updated: Object.keys(change) }, project);
    return rec;
  }

  /** Run `fn` holding the instance's store locks: wait at most busyWaitMs, else 409 naming the operation. */
  private async locked<T>(rec: InstanceRecord, fn: () => Promise<T>): Promise<T> {
    const targets = [...new Set(this.p.lockTargets?.(rec) ?? [lockTarget.instance(rec.uuid)])].sort();
    const holder: LockHolder = { op: `patch-${randomUUID()}`, daemon: this.p.daemonId, since: new Date().toISOString() };
    const signal = AbortSignal.timeout(this.p.busyWaitMs ?? BUSY_WAIT_MS);
    const held: HeldLock[] = [];
    try {
      for (const t of targets) {
        try {
          held.push(await this.p.locks.acquire(keys.lock(t), holder, signal));
        } catch (e) {
          if (!(e instanceof NimboError && e.code === 'Cancelled')) throw e;
          const by = (await this.p.store.get<LockHolder>(keys.lock(t)))?.value.op ?? 'unknown';
          throw conflict(`instance ${rec.name} is busy with operation ${by}`);
        }
      }
      return await fn();
    } finally {
      for (const l of held.reverse()) await this.p.locks.release(l).catch((e: unknown) => this.p.log.warn({ lock: l.key, err: String(e) }, 'releasing an instance lock failed'));
    }
  }

  /** After a rename: DHCP/DNS learn the new hostname, the firewall is rendered again. Logged, not thrown: the rename stands. */
  private async refreshHost(rec: InstanceRecord): Promise<void> {
    for (const net of new Set(rec.nics.map((n) => n.network))) {
      await this.p.refreshNetwork(projectOfRecord(rec), net).catch((e: unknown) => this.p.log.warn({ instance: rec.name, network: net, err: String(e) }, 'refreshing DHCP/DNS after a rename failed'));
    }
    await this.p.applyFirewall().catch((e: unknown) => this.p.log.warn({ instance: rec.name, err: String(e) }, 'applying the firewall after a rename failed'));
  }
}

/** The field changes of a PATCH body, validated (bounds as at create); 400 on bad input. */
export function validatePatch(req: InstancePatch): FieldChange {
  const out: FieldChange = {};
  if (req.description !== undefined) {
    if (req.description.length > MAX_DESCRIPTION || /[\u0000-\u0008\u000b-\u001f\u007f]/.test(req.description)) {
      throw invalid(`description: at most ${MAX_DESCRIPTION} characters, no control characters but newlines and tabs`);
    }
    out.description = req.description;
  }
  if (req.labels !== undefined) out.labels = validateLabels(req.labels) ?? {};
  if (req.autostart !== undefined) {
    if (!AUTOSTART.includes(req.autostart)) throw invalid(`autostart must be one of ${AUTOSTART.join(', ')}`);
    out.autostart = req.autostart;
  }
  if (req.cpus !== undefined) {
    if (!Number.isInteger(req.cpus) || req.cpus < 1 || req.cpus > MAX_CPUS) throw invalid(`cpus must be an integer from 1 to ${MAX_CPUS}`);
    out.cpus = req.cpus;
  }
  if (req.memory !== undefined) out.memory = parseBoundedSize(req.memory, LIMITS.memory.min, LIMITS.memory.max, 'memory');
  return out;
}

/** CPUs and memory change only while stopped (a running instance keeps what it booted with). */
function assertStopped(rec: InstanceRecord): void {
  if (rec.state !== 'stopped') throw conflict(`instance ${rec.name} is ${rec.state}: cpus and memory can be changed only while it is stopped`);
}

/** The record with the field changes applied (autostart lives in desired). */
function applyChange(rec: InstanceRecord, change: FieldChange): InstanceRecord {
  const { autostart, ...fields } = change;
  const next: InstanceRecord = { ...rec, ...fields };
  if (autostart !== undefined) next.desired = { power: rec.desired?.power ?? (rec.state === 'running' ? 'running' : 'stopped'), autostart };
  return next;
}
