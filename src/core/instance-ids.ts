// Host ids drivers ask for at plan time, reserved in the store by compare-and-swap (never given twice,
// also across daemons sharing the store): QEMU uids (vm-ids.ts) and container id-range slots.
import type { PlanInput } from '../drivers/compute/instance-driver.js';
import { conflict, isRevisionConflict } from '../lib/errors.js';
import type { Store } from '../store/store.js';
import { keys } from '../store/keys.js';
import { allocateVmId, releaseVmId } from './vm-ids.js';

/** How many container id ranges exist. */
export const ID_RANGE_SLOTS = 30_000;
const slotKey = (n: number) => keys.idmap(n);

/** Reserve the lowest free id-range slot for `owner`. */
export async function allocateIdSlot(store: Store, owner: string): Promise<number> {
  const taken = new Set((await store.list(keys.idmaps)).map((kv) => Number(kv.key.slice(keys.idmaps.length))));
  for (let n = 0; n < ID_RANGE_SLOTS; n++) {
    if (taken.has(n)) continue;
    try {
      await store.put(slotKey(n), { owner }, { expectRevision: 0 });
      return n;
    } catch (e) {
      if (!isRevisionConflict(e)) throw e;
    }
  }
  throw conflict('no free id range for another container');
}

/** The id port a driver's plan()/release() get, for one owner (the instance's UUID). */
export function idPort(store: Store, owner: string): Pick<PlanInput, 'allocateId' | 'releaseId'> {
  return {
    allocateId: (kind) => (kind === 'vm-uid' ? allocateVmId(store, owner) : allocateIdSlot(store, owner)),
    releaseId: async (kind, id) => {
      if (kind === 'vm-uid') await releaseVmId(store, id);
      else await store.delete(slotKey(id));
    },
  };
}
