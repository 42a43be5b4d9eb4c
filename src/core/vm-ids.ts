import { conflict, isRevisionConflict } from '../lib/errors.js';
import type { Store } from '../store/store.js';
import { keys, keyTail } from '../store/keys.js';

// Each VM's QEMU drops to its own uid and gid (-runas UID:GID), so one escaped QEMU cannot open
// another VM's disks, taps or sockets. The ids come from a range of their own: above every
// container range (1,000,000 + 30,000 * 65,536 < 1,967,000,000) and below 2^31, so they never
// collide with container ids, system users, nobody or the usual /etc/subuid ranges.

/** First host uid/gid of nimbo VMs; VM n runs as VM_ID_BASE + n. */
export const VM_ID_BASE = 2_000_000_000;
/** How many VM ids exist (one per VM on this host). */
export const VM_ID_COUNT = 65_536;
const vmIdKey = keys.vmid;

/** The lowest free slot (not in `taken`), or undefined when all VM_ID_COUNT are in use. */
export function firstFreeSlot(taken: Set<number>, from = 0): number | undefined {
  for (let n = from; n < VM_ID_COUNT; n++) if (!taken.has(n)) return n;
  return undefined;
}

/** True when `id` is a uid/gid this allocator hands out. */
export function isVmId(id: number): boolean {
  return Number.isInteger(id) && id >= VM_ID_BASE && id < VM_ID_BASE + VM_ID_COUNT;
}

/** Reserve a uid/gid for a VM's QEMU (compare-and-swap in the store: never given to two VMs). */
export async function allocateVmId(store: Store, owner: string): Promise<number> {
  const taken = new Set((await store.list(keys.vmids)).map((kv) => Number(keyTail(keys.vmids, kv.key))));
  for (let n = firstFreeSlot(taken); n !== undefined; n = firstFreeSlot(taken, n + 1)) {
    try {
      await store.put(vmIdKey(n), { owner }, { expectRevision: 0 });
      return VM_ID_BASE + n;
    } catch (e) {
      if (!isRevisionConflict(e)) throw e;
      taken.add(n); // another request won this slot: try the next one
    }
  }
  throw conflict(`no free QEMU user id: all ${VM_ID_COUNT} VM ids are in use`);
}

/** Give a VM's uid/gid back (delete, or a rolled-back create); ids outside the range are ignored. */
export async function releaseVmId(store: Store, id: number | undefined): Promise<void> {
  if (id === undefined || !isVmId(id)) return;
  await store.delete(vmIdKey(id - VM_ID_BASE));
}

/** QEMU's -runas argument for a VM id: "UID:GID" (the same number; no passwd entry needed). */
export function runAsOf(id: number): string {
  return `${id}:${id}`;
}
