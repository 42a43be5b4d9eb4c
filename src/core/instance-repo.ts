// Instance records in the store: read, list, create (the name taken atomically) and compare-and-swap
// updates. Every write that depends on a read goes through casUpdate, so concurrent writers never lose
// each other's changes. Records are per project (names are unique within one); allRecords lists every project
// for host-wide loops (the reconciler, the snapshot scheduler).
import { conflict, notFound, NimboError } from '../lib/errors.js';
import { casUpdate } from '../store/cas.js';
import { DEFAULT_PROJECT, keys, projectOfKey } from '../store/keys.js';
import type { Store } from '../store/store.js';
import type { EventBus } from './events.js';
import { instanceKey, projectOfRecord, type InstanceRecord } from './instance-record.js';
import { checkInstanceRecord } from './records/instance-schema.js';
import type { Admission, InstanceCharge } from './quota/admission.js';
import { instanceCounts } from './plans/launch-plan.js';

/** A change to a record: fields to merge, or a function of the current record (recomputed on each retry). */
export type RecordChange = Partial<InstanceRecord> | ((cur: InstanceRecord) => Partial<InstanceRecord>);

/** A record with its project (one written before projects has none: its key says it). */
function withProject(key: string, rec: InstanceRecord): InstanceRecord {
  return rec.project ? rec : { ...rec, project: projectOfKey(key) ?? DEFAULT_PROJECT };
}

/** The instance records of this daemon's store. */
export class InstanceRepo {
  /** With `admission`, a record is created and deleted in one transaction with its project's quota usage (and dedicated cores). */
  constructor(private store: Store, private events: EventBus, private admission?: Admission) {}

  /** One instance of a project; NotFound when the project has none of that name. */
  async record(project: string, name: string): Promise<InstanceRecord> {
    const kv = await this.store.get<InstanceRecord>(instanceKey(project, name));
    if (!kv) throw notFound(`instance ${name}`);
    return withProject(kv.key, checkInstanceRecord(kv.key, kv.value));
  }

  /** The instances of one project. */
  async records(project: string): Promise<InstanceRecord[]> {
    return (await this.store.list<InstanceRecord>(keys.instances(project))).map((k) => withProject(k.key, checkInstanceRecord(k.key, k.value)));
  }

  /** The instances of every project (host-wide loops). */
  async allRecords(): Promise<InstanceRecord[]> {
    return (await this.store.list<InstanceRecord>(keys.allInstances)).map((k) => withProject(k.key, checkInstanceRecord(k.key, k.value)));
  }

  /**
   * Store a new record; Conflict when the name is taken (put-if-absent, so two creates never both win). With admission,
   * the project's usage is raised in the same transaction (QuotaExceeded when over; default charge: the record's sizes),
   * and a dedicated charge writes the host cores it got into rec.slice.
   */
  async create(rec: InstanceRecord, charge?: InstanceCharge): Promise<void> {
    const exists = `instance ${rec.name} already exists`;
    const key = instanceKey(projectOfRecord(rec), rec.name);
    if (this.admission) {
      const written = await this.admission.createRecord(key, rec, charge ?? { project: projectOfRecord(rec), counts: instanceCounts(rec) }, exists);
      if (written.slice) rec.slice = written.slice;
    } else {
      try {
        await this.store.put(key, rec, { expectRevision: 0 });
      } catch (e) {
        if (e instanceof NimboError && e.code === 'Conflict') throw conflict(exists);
        throw e;
      }
    }
    this.events.publish('instance', rec.name, { state: rec.state }, projectOfRecord(rec));
  }

  /** Write a record this caller owns outright (a create in progress, before anyone else can see it change). */
  async put(rec: InstanceRecord): Promise<void> {
    await this.store.put(instanceKey(projectOfRecord(rec), rec.name), rec);
  }

  /** Remove a record (with admission: and give back its quota charge and dedicated cores, in one transaction). */
  async delete(project: string, name: string): Promise<void> {
    const key = instanceKey(project, name);
    const kv = this.admission ? await this.store.get<InstanceRecord>(key) : undefined;
    if (this.admission && kv) await this.admission.deleteRecord(key, kv.value.uuid);
    else await this.store.delete(key);
  }

  /**
   * Update a record (compare-and-swap, retried): `change` is merged into the current record; give a function of the
   * current record when the change depends on it (a list to extend, a counter), so each retry recomputes it.
   */
  async patch(project: string, name: string, change: RecordChange): Promise<InstanceRecord> {
    const res = await casUpdate<InstanceRecord>(this.store, instanceKey(project, name), (cur) => {
      if (!cur) throw notFound(`instance ${name}`);
      const ch = typeof change === 'function' ? change(cur) : change;
      const rec = { ...cur, ...ch };
      if (!('error' in ch) && ch.state && ch.state !== 'error') delete rec.error;
      return rec;
    });
    const rec = res!.value;
    this.events.publish('instance', name, { state: rec.state }, project);
    return rec;
  }
}
