// The reconciler's ports, made from the daemon's services (part of the composition root).
import { Reconciler, storeBootSource } from '../core/reconcile/reconciler.js';
import { lockKey } from '../core/locks.js';
import type { EventBus } from '../core/events.js';
import type { InstanceRecord } from '../core/instance-record.js';
import type { InstanceRepo } from '../core/instance-repo.js';
import type { InstanceRuntime } from '../core/instance-runtime.js';
import type { DriverRegistry } from '../drivers/compute/registry.js';
import { isRevisionConflict, NimboError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { keys } from '../store/keys.js';
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
  return new Reconciler(
    {
      records: () => repo.records(),
      record: async (uuid, name) => {
        const byName = name ? await repo.record(name).catch(() => undefined) : undefined;
        return byName?.uuid === uuid ? byName : (await repo.records()).find((r) => r.uuid === uuid);
      },
      drivers: () => w.drivers.all(),
      driverOf: (rec) => runtime.driverOf(rec),
      refOf: (rec) => runtime.refOf(rec),
      patch: async (rec, fn) => {
        try {
          return await repo.patch(rec.name, (cur) => fn(cur) ?? {});
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
      watch: (cb) => store.watch(keys.instances(), (ev) => cb(ev.type === 'put' ? { record: ev.value as InstanceRecord } : {})),
      publish: (rec, data) => w.events.publish('instance', rec.name, data),
      log: w.log,
    },
    { boot: storeBootSource(store) },
  );
}
