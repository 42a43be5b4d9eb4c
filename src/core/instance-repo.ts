// Instance records in the store: read, list, create (the name taken atomically) and compare-and-swap
// updates. Every write that depends on a read goes through casUpdate, so concurrent writers never lose
// each other's changes. The key layout is instanceKey's (one module, ready for project scoping).
import { conflict, notFound, NimboError } from '../lib/errors.js';
import { casUpdate } from '../store/cas.js';
import { keys } from '../store/keys.js';
import type { Store } from '../store/store.js';
import type { EventBus } from './events.js';
import { instanceKey, type InstanceRecord } from './instance-record.js';
import { checkInstanceRecord } from './records/instance-schema.js';

/** A change to a record: fields to merge, or a function of the current record (recomputed on each retry). */
export type RecordChange = Partial<InstanceRecord> | ((cur: InstanceRecord) => Partial<InstanceRecord>);

/** The instance records of this daemon's store. */
export class InstanceRepo {
  constructor(private store: Store, private events: EventBus) {}

  async record(name: string): Promise<InstanceRecord> {
    const kv = await this.store.get<InstanceRecord>(instanceKey(name));
    if (!kv) throw notFound(`instance ${name}`);
    return checkInstanceRecord(kv.key, kv.value);
  }

  async records(): Promise<InstanceRecord[]> {
    return (await this.store.list<InstanceRecord>(keys.instances())).map((k) => checkInstanceRecord(k.key, k.value));
  }

  /** Store a new record; Conflict when the name is taken (put-if-absent, so two creates never both win). */
  async create(rec: InstanceRecord): Promise<void> {
    try {
      await this.store.put(instanceKey(rec.name), rec, { expectRevision: 0 });
    } catch (e) {
      if (e instanceof NimboError && e.code === 'Conflict') throw conflict(`instance ${rec.name} already exists`);
      throw e;
    }
    this.events.publish('instance', rec.name, { state: rec.state });
  }

  /** Write a record this caller owns outright (a create in progress, before anyone else can see it change). */
  async put(rec: InstanceRecord): Promise<void> {
    await this.store.put(instanceKey(rec.name), rec);
  }

  /** Remove a record. */
  async delete(name: string): Promise<void> {
    await this.store.delete(instanceKey(name));
  }

  /**
   * Update a record (compare-and-swap, retried): `change` is merged into the current record; give a function of the
   * current record when the change depends on it (a list to extend, a counter), so each retry recomputes it.
   */
  async patch(name: string, change: RecordChange): Promise<InstanceRecord> {
    const res = await casUpdate<InstanceRecord>(this.store, instanceKey(name), (cur) => {
      if (!cur) throw notFound(`instance ${name}`);
      const ch = typeof change === 'function' ? change(cur) : change;
      const rec = { ...cur, ...ch };
      if (!('error' in ch) && ch.state && ch.state !== 'error') delete rec.error;
      return rec;
    });
    const rec = res!.value;
    this.events.publish('instance', name, { state: rec.state });
    return rec;
  }
}
