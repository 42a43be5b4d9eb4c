// The narrow ports the reconciler runs on; daemon.ts maps them onto the instance repository, the driver
// registry, the store locks and the lifecycle's start path, so the reconciler needs no InstanceService.
import type { DriverEvent, InstanceDriver, InstanceRef } from '../../drivers/compute/instance-driver.js';
import type { Logger } from '../../lib/log.js';
import type { InstanceRecord } from '../instance-record.js';

/** What the reconciler needs from the rest of the daemon. */
export interface ReconcileHost {
  /** Every instance record. */
  records(): Promise<InstanceRecord[]>;
  /** One record by uuid (undefined once deleted); `name` is where it was last seen (records are keyed by name today). */
  record(uuid: string, name?: string): Promise<InstanceRecord | undefined>;
  /** Every loaded driver (the reconciler subscribes to each one's watch()). */
  drivers(): InstanceDriver[];
  /** The driver of a record; throws (Conflict) when it is not available on this host. */
  driverOf(rec: InstanceRecord): InstanceDriver;
  /** The InstanceRef of a record (host ids, driverConfig). */
  refOf(rec: InstanceRecord): InstanceRef;
  /** Compare-and-swap update of the record: fn sees the current record and returns the fields to change (undefined: none); publishes the state change. */
  patch(rec: InstanceRecord, fn: (cur: InstanceRecord) => Partial<InstanceRecord> | undefined): Promise<InstanceRecord | undefined>;
  /** Take the instance's operation lock without waiting; undefined while an operation holds it (its end calls kick()). */
  tryLock(rec: InstanceRecord): Promise<(() => Promise<void>) | undefined>;
  /** The lifecycle's own start path (spec, driver.start, consoles); throws when the start fails. */
  start(rec: InstanceRecord): Promise<void>;
  /** Store watch of the instance records: a put gives the new record, a delete none. */
  watch(cb: (ev: { record?: InstanceRecord }) => void): () => void;
  /** An instance event for API watchers (a restart, OOM kills); state changes are published by patch. */
  publish(rec: InstanceRecord, data: Record<string, unknown>): void;
  log: Logger;
}

/** Where the boot id of the last daemon run on this host is kept, and how to read the current one. */
export interface BootSource {
  /** The kernel's boot id now. */
  current(): Promise<string>;
  /** The boot id the last reconciler pass saw (undefined on a fresh state dir). */
  stored(): Promise<string | undefined>;
  save(bootId: string): Promise<void>;
}

/** A driver event as queued for one instance. */
export type Pending = { why: import('./desired.js').Why; event?: DriverEvent };
