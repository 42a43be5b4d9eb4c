// The reconciler's ports, made from the daemon's services (part of the composition root).
import { Reconciler, storeBootSource } from '../core/reconcile/reconciler.js';
import { lockKey } from '../core/locks.js';
import type { EventBus } from '../core/events.js';
import { projectOfRecord, type InstanceRecord } from '../core/instance-record.js';
import type { InstanceRepo } from '../core/instance-repo.js';
import type { InstanceRuntime } from '../core/instance-runtime.js';
import type { DriverRegistry } from '../drivers/compute/registry.js';
import { isRevisionConflict, NimboError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { DEFAULT_PROJECT, keys, projectOfKey } from '../store/keys.js';
import type { Store } from '../store/store.js';

/** What the reconciler is wired from. */
export interface ReconcilerWiring {
  store: Store;
  events: EventBus;
  log: Logger;
  repo: InstanceRepo;
  runtime: InstanceRuntime;
  drivers: DriverRegistry;
}

/** A reconciler over the daemon's records, drivers and store locks (not started). */
export function makeReconciler(w: ReconcilerWiring): Reconciler {
  const { store, repo, runtime } = w;
  // Where each instance was last seen (its project): the fast path of record(uuid, name) below.
  const projects = new Map<string, string>();
  const seen = (recs: InstanceRecord[]) => {
    for (const r of recs) projects.set(r.uuid, projectOfRecord(r));
    return recs;
  };
  return new Reconciler(
    {
      // Host-wide: every project's instances run on this host.
      records: async () => seen(await repo.allRecords()),
      record: async (uuid, name) => {
        const project = projects.get(uuid);
        const byName = name && project ? await repo.record(project, name).catch(() => undefined) : undefined;
        return byName?.uuid === uuid ? byName : seen(await repo.allRecords()).find((r) => r.uuid === uuid);
      },
      drivers: () => w.drivers.all(),
      driverOf: (rec) => runtime.driverOf(rec),
      refOf: (rec) => runtime.refOf(rec),
      patch: async (rec, fn) => {
        try {
          return await repo.patch(projectOfRecord(rec), rec.name, (cur) => fn(cur) ?? {});
        } catch (e) {
          if (e instanceof NimboError && e.code === 'NotFound') return undefined;
          throw e;
        }
      },
      // The instance's operation lock, never waited for: an operation in progress has the instance.
      tryLock: async (rec) => {
        const key = lockKey(runtime.lockOf(rec));
        try {
          const revision = await store.put(key, { op: 'reconcile', daemon: 'reconciler', since: new Date().toISOString() }, { expectRevision: 0 });
          return async () => void (await store.delete(key, { expectRevision: revision }).catch(() => false));
        } catch (e) {
          if (isRevisionConflict(e)) return undefined;
          throw e;
        }
      },
      start: (rec) => runtime.start(rec),
      watch: (cb) => store.watch(keys.allInstances, (ev) => cb(ev.type === 'put' ? { record: { ...(ev.value as InstanceRecord), project: projectOfKey(ev.key) ?? DEFAULT_PROJECT } } : {})),
      publish: (rec, data) => w.events.publish('instance', rec.name, data, projectOfRecord(rec)),
      log: w.log,
    },
    { boot: storeBootSource(store) },
  );
}
