// Writing and deleting records a project's quota counts (networks, floating IPs, snapshots): through the
// quota port when the daemon has one (usage changed in the same transaction), else a plain store write.
import { conflict, NimboError } from '../../lib/errors.js';
import type { BaseDeps, QuotaCountField } from '../deps.js';

/** Create `key` (Conflict(exists) when taken), charged `counts` to `project`. */
export async function putCounted(d: Pick<BaseDeps, 'store' | 'quota'>, key: string, value: unknown, project: string, counts: Partial<Record<QuotaCountField, number>>, exists: string): Promise<void> {
  if (d.quota) return d.quota.putCharged(key, value, project, counts, exists);
  try {
    await d.store.put(key, value, { expectRevision: 0 });
  } catch (e) {
    if (e instanceof NimboError && e.code === 'Conflict') throw conflict(exists);
    throw e;
  }
}

/** Delete `key` and give back what it was charged. */
export async function deleteCounted(d: Pick<BaseDeps, 'store' | 'quota'>, key: string): Promise<void> {
  if (d.quota) return d.quota.deleteCharged(key);
  await d.store.delete(key);
}
