// A copy of a container's root for `nimbo copy`: the root filesystem volume cloned through its
// pool's driver (btrfs: a writable subvolume snapshot, O(1); dir: `cp -a --reflink=auto
// --one-file-system` of the volume directory, which leaves a mounted overlay rootfs out, so
// only the overlay upper — the container's changes and the metadata-only inodes of the shift —
// is copied), then every file owner moved from the source's host id range to the copy's
// (runc/root.ts retargetRoot: the overlay is mounted and re-shifted).
import { retargetRoot, unmountRoot } from '../drivers/compute/runc/root.js';
import type { InstanceService } from './instance-service.js';
import type { Reverter } from '../lib/reverter.js';

/** Where a copied root goes and which ids it gets. */
export interface CloneRootTarget {
  pool: string;
  volume: string;
  hostId: number;
}

/**
 * Clone the root volume `src` (or its snapshot `fromSnapshot`) to `target`, shifted to the
 * target's id range and mounted. Registers its undo on r (unmount, delete the volume) as soon
 * as the volume exists. Returns the ms each step took.
 */
export async function cloneContainerRoot(
  svc: InstanceService, src: { pool: string; volume: string }, target: CloneRootTarget, r: Reverter, fromSnapshot?: string,
): Promise<{ cloneMs: number; shiftMs: number; shifted: number }> {
  const storage = svc.storageService;
  if (!storage) throw new Error('storage is not wired');
  const dr = await storage.driver(src.pool);
  const caps = await dr.capabilities();
  const t0 = Date.now();
  await dr.cloneVolume(src.volume, target.volume, { mode: caps.filesystemLinkedClones ? 'linked' : 'full', ...(fromSnapshot ? { fromSnapshot } : {}) });
  const dir = (await dr.volumePath(target.volume)).path;
  r.add('root volume', async () => {
    await unmountRoot(svc.d.exec, dir).catch(() => undefined);
    await svc.dropRoot({ pool: target.pool, volume: target.volume });
  });
  const t1 = Date.now();
  const root = await retargetRoot(svc.d.exec, dir, target.hostId);
  return { cloneMs: t1 - t0, shiftMs: Date.now() - t1, shifted: root.shifted };
}
