// Admission of new things against their project's quota, race-free: an instance record is created in the
// SAME store transaction that raises its project's usage counters (and, for a dedicated plan, takes its
// host cores), each compared at the revision it was read at. 50 concurrent creates against a quota of 10
// therefore create exactly 10. Deleting the record gives back exactly what was charged (kept per UUID).
import { conflict } from '../../lib/errors.js';
import { keys } from '../../store/keys.js';
import type { Store, TxnOp } from '../../store/store.js';
import { casTxn } from './cas-txn.js';
import { addWithin, subtract, usageOf, type Counts, type Usage } from './quota.js';
import type { QuotaLimits } from '../../shared/plan-types.js';
import { allocateSlice, NO_SLICES, releaseSlice, type SliceHost, type SliceState } from '../plans/slices.js';

/** What one instance was charged, kept at keys.quotaCharge(uuid) until its record goes. */
export interface ChargeRecord {
  project: string;
  counts: Counts;
  /** Dedicated: the host the cores are on. */
  sliceHost?: string;
}

/** What an instance create asks for. */
export interface InstanceCharge {
  project: string;
  counts: Counts;
  /** Dedicated plans: cores and memory reserved on this host. */
  dedicated?: { vcpus: number; memoryMiB: number };
}

/** Quota and dedicated-slice admission; every write is one transaction with what it accounts for. */
export class Admission {
  constructor(private store: Store, private host: SliceHost, private hostName = 'local') {}

  /**
   * Create the record at `key` (Conflict `exists` when taken) charging its project; a dedicated charge also gets
   * host cores, written into the record as `slice`. Returns the record as written.
   */
  async createRecord<T extends { uuid: string }>(key: string, value: T, charge: InstanceCharge, exists: string): Promise<T & { slice?: { cores: number[] } }> {
    return casTxn(this.store, async (read) => {
      if (await read(key)) throw conflict(exists);
      const ops: TxnOp[] = [];
      await this.charged(read, charge.project, charge.counts, ops);
      let rec: T & { slice?: { cores: number[] } } = value;
      if (charge.dedicated) {
        const cur = (await read<SliceState>(keys.hostSlices(this.hostName))) ?? NO_SLICES;
        const next = allocateSlice(cur, this.host, value.uuid, charge.dedicated.vcpus, charge.dedicated.memoryMiB);
        ops.push({ type: 'put', key: keys.hostSlices(this.hostName), value: next });
        rec = { ...value, slice: { cores: next.cores[value.uuid]! } };
      }
      const record: ChargeRecord = { project: charge.project, counts: charge.counts, ...(charge.dedicated ? { sliceHost: this.hostName } : {}) };
      ops.push({ type: 'put', key, value: rec }, { type: 'put', key: keys.quotaCharge(value.uuid), value: record });
      return { ops, result: rec };
    });
  }

  /** Delete the record at `key` (of instance `uuid`) and give back its charge and cores, in one transaction. */
  async deleteRecord(key: string, uuid: string): Promise<void> {
    await casTxn(this.store, async (read) => {
      const ops: TxnOp[] = [];
      const charge = await read<ChargeRecord>(keys.quotaCharge(uuid));
      if ((await read(key)) !== undefined) ops.push({ type: 'delete', key });
      if (charge) {
        const used = usageOf(await read<Partial<Usage>>(keys.quotaUsage(charge.project)));
        ops.push(usageWrite(charge.project, subtract(used, charge.counts)), { type: 'delete', key: keys.quotaCharge(uuid) });
        if (charge.sliceHost) {
          const cur = (await read<SliceState>(keys.hostSlices(charge.sliceHost))) ?? NO_SLICES;
          const next = releaseSlice(cur, uuid);
          ops.push(Object.keys(next.cores).length ? { type: 'put', key: keys.hostSlices(charge.sliceHost), value: next } : { type: 'delete', key: keys.hostSlices(charge.sliceHost) });
        }
      }
      return { ops, result: undefined };
    });
  }

  /** Raise a project's usage (networks, floating IPs, snapshots: counted before they are made); QuotaExceeded when over. */
  async reserve(project: string, counts: Counts): Promise<void> {
    await casTxn(this.store, async (read) => {
      const ops: TxnOp[] = [];
      await this.charged(read, project, counts, ops);
      return { ops, result: undefined };
    });
  }

  /** Lower a project's usage (what reserve() raised, after a failure or a delete). */
  async release(project: string, counts: Counts): Promise<void> {
    await casTxn(this.store, async (read) => {
      const used = usageOf(await read<Partial<Usage>>(keys.quotaUsage(project)));
      return { ops: [usageWrite(project, subtract(used, counts))], result: undefined };
    });
  }

  /** QuotaExceeded when `counts` more would not fit now (nothing is written). */
  async check(project: string, counts: Counts): Promise<void> {
    const limits = (await this.store.get<QuotaLimits>(keys.quota(project)))?.value ?? {};
    addWithin(project, limits, usageOf((await this.store.get<Partial<Usage>>(keys.quotaUsage(project)))?.value), counts);
  }

  /** Write `value` at `key` and charge its project in one transaction (with `exists`: the key must be absent). */
  async putCharged(key: string, value: unknown, project: string, counts: Counts, exists?: string): Promise<void> {
    await casTxn(this.store, async (read) => {
      if (exists !== undefined && (await read(key)) !== undefined) throw conflict(exists);
      const ops: TxnOp[] = [];
      await this.charged(read, project, counts, ops);
      const record: ChargeRecord = { project, counts };
      ops.push({ type: 'put', key, value }, { type: 'put', key: keys.quotaCharge(`rec${key}`), value: record });
      return { ops, result: undefined };
    });
  }

  /** Delete `key` and give back its charge (a record from before quotas has none: only deleted). */
  async deleteCharged(key: string): Promise<void> {
    await casTxn(this.store, async (read) => {
      const chargeKey = keys.quotaCharge(`rec${key}`);
      const charge = await read<ChargeRecord>(chargeKey);
      const ops: TxnOp[] = [{ type: 'delete', key }];
      if (charge) {
        const used = usageOf(await read<Partial<Usage>>(keys.quotaUsage(charge.project)));
        ops.push(usageWrite(charge.project, subtract(used, charge.counts)), { type: 'delete', key: chargeKey });
      }
      return { ops, result: undefined };
    });
  }

  /**
   * Change the charge kept under `id` (an instance's UUID, or a volume's chargeId) to `next(current)`
   * (undefined: no charge), moving `project`'s usage by the difference in one transaction. A rise over the
   * quota is QuotaExceeded and changes nothing; a fall never is.
   */
  async recharge(id: string, project: string, next: (cur: Counts | undefined) => Counts | undefined): Promise<void> {
    await casTxn(this.store, async (read) => {
      const cur = await read<ChargeRecord>(keys.quotaCharge(id));
      const want = next(cur?.counts);
      const delta: Counts = {};
      for (const f of new Set([...Object.keys(cur?.counts ?? {}), ...Object.keys(want ?? {})]) as Set<keyof Counts>) {
        const d = (want?.[f] ?? 0) - (cur?.counts[f] ?? 0);
        if (d !== 0) delta[f] = d;
      }
      const owner = cur?.project ?? project;
      const limits = (await read<QuotaLimits>(keys.quota(owner))) ?? {};
      const used = addWithin(owner, limits, usageOf(await read<Partial<Usage>>(keys.quotaUsage(owner))), delta);
      const record: ChargeRecord | undefined = want ? { ...(cur ?? {}), project: owner, counts: want } : undefined;
      const ops: TxnOp[] = [usageWrite(owner, clampZero(used)), record ? { type: 'put', key: keys.quotaCharge(id), value: record } : { type: 'delete', key: keys.quotaCharge(id) }];
      return { ops, result: undefined };
    });
  }

  /** Keep a charge under another id (a renamed volume); nothing when there is none. */
  async moveCharge(from: string, to: string): Promise<void> {
    await casTxn(this.store, async (read) => {
      const cur = await read<ChargeRecord>(keys.quotaCharge(from));
      const ops: TxnOp[] = cur ? [{ type: 'delete', key: keys.quotaCharge(from) }, { type: 'put', key: keys.quotaCharge(to), value: cur }] : [];
      return { ops, result: undefined };
    });
  }

  /** The host's dedicated slices now. */
  async slices(): Promise<SliceState> {
    return (await this.store.get<SliceState>(keys.hostSlices(this.hostName)))?.value ?? NO_SLICES;
  }

  /** What the host can dedicate. */
  hostFacts(): SliceHost {
    return this.host;
  }

  /** Push the usage write of `counts` onto ops (read and compared with the quota); QuotaExceeded when over. */
  private async charged(read: <V>(k: string) => Promise<V | undefined>, project: string, counts: Counts, ops: TxnOp[]): Promise<void> {
    const limits = (await read<QuotaLimits>(keys.quota(project))) ?? {};
    const used = usageOf(await read<Partial<Usage>>(keys.quotaUsage(project)));
    const next = addWithin(project, limits, used, counts);
    ops.push({ type: 'put', key: keys.quotaUsage(project), value: next });
  }
}

/** The write of a project's usage: nothing used leaves no record (a failed create leaves the store as it was). */
function clampZero(u: Usage): Usage {
  return Object.fromEntries(Object.entries(u).map(([k, v]) => [k, Math.max(0, v)])) as Usage;
}

function usageWrite(project: string, u: Usage): TxnOp {
  return Object.values(u).every((v) => v === 0) ? { type: 'delete', key: keys.quotaUsage(project) } : { type: 'put', key: keys.quotaUsage(project), value: u };
}
