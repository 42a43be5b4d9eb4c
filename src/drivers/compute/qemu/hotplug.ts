// Live CPU and memory hot-add over QMP (the plan is hotplug-plan.ts), and the guest's own view of its memory
// from the virtio-balloon's statistics (argv.ts gives every VM one, with free page reporting).
import type { Logger } from '../../../lib/log.js';
import { BALLOON_ID, MEMORY_SLOTS } from './argv.js';
import { planHotAdd, presentCpus, presentMemory, type HotplugState, type HotpluggableCpu, type MemoryDevice } from './hotplug-plan.js';
import type { QmpClient } from './qmp.js';

/** The size asked for and the VM's maximum. */
export interface LiveSize {
  cpus: number;
  memoryBytes: number;
  maxCpus: number;
  maxMemoryBytes: number;
}

/** What QEMU has now (CPU slots, memory summary, memory devices). */
export async function readHotplugState(qmp: QmpClient): Promise<HotplugState> {
  const [cpus, memory, devices] = await Promise.all([
    qmp.execute<HotpluggableCpu[]>('query-hotpluggable-cpus'),
    qmp.execute<HotplugState['memory']>('query-memory-size-summary'),
    qmp.execute<MemoryDevice[]>('query-memory-devices'),
  ]);
  return { cpus, memory, devices };
}

/**
 * Grow the running VM to `want` (planHotAdd refuses anything else before a change): the DIMM first (its backend
 * object is deleted again if its device_add fails), then the CPUs; a failed CPU add asks the guest to eject the
 * ones this call added. Returns what QEMU has afterwards.
 */
export async function hotAdd(qmp: QmpClient, want: LiveSize, log: Logger): Promise<{ cpus: number; memoryBytes: number }> {
  const plan = planHotAdd(await readHotplugState(qmp), { ...want, slots: MEMORY_SLOTS });
  for (const d of plan.dimms) {
    await qmp.execute('object-add', { 'qom-type': 'memory-backend-ram', id: d.memdev, size: d.bytes });
    try {
      await qmp.execute('device_add', { driver: 'pc-dimm', id: d.id, memdev: d.memdev });
    } catch (e) {
      await qmp.execute('object-del', { id: d.memdev }).catch((err: unknown) => log.warn({ memdev: d.memdev, err: String(err) }, 'removing an unused memory backend failed'));
      throw e;
    }
  }
  const added: string[] = [];
  try {
    for (const c of plan.cpus) {
      await qmp.execute('device_add', { driver: c.driver, id: c.id, ...c.props });
      added.push(c.id);
    }
  } catch (e) {
    for (const id of added.reverse()) await qmp.execute('device_del', { id }).catch((err: unknown) => log.warn({ cpu: id, err: String(err) }, 'ejecting a hot-added CPU failed'));
    throw e;
  }
  const now = await readHotplugState(qmp);
  return { cpus: presentCpus(now.cpus), memoryBytes: presentMemory(now.memory) };
}

/** Memory as the guest sees it (the balloon driver's statistics), bytes. */
export interface GuestMemory {
  totalBytes: number;
  freeBytes: number;
  availableBytes: number;
  /** total - available: what the guest's programs and kernel hold (caches it can drop are not counted). */
  usedBytes: number;
}

/** How often the balloon driver sends statistics (seconds). */
const STATS_INTERVAL_S = 5;

/** Ask the guest's balloon driver for statistics every few seconds (a no-op for QEMU when already on). */
export async function enableGuestStats(qmp: QmpClient): Promise<void> {
  await qmp.execute('qom-set', { path: `/machine/peripheral/${BALLOON_ID}`, property: 'guest-stats-polling-interval', value: STATS_INTERVAL_S });
}

/** The guest's memory statistics; undefined until its balloon driver has sent some (turning the polling on then). */
export async function guestMemory(qmp: QmpClient, timeoutMs: number): Promise<GuestMemory | undefined> {
  const r = await qmp.execute<{ stats: Record<string, number>; 'last-update': number }>('qom-get', { path: `/machine/peripheral/${BALLOON_ID}`, property: 'guest-stats' }, { timeoutMs });
  return parseGuestStats(r) ?? (await enableGuestStats(qmp), undefined);
}

/** guest-stats as GuestMemory; undefined when none came yet (last-update 0) or a field is missing (-1). */
export function parseGuestStats(r: { stats: Record<string, number>; 'last-update': number }): GuestMemory | undefined {
  const total = r.stats['stat-total-memory'];
  const free = r.stats['stat-free-memory'];
  const avail = r.stats['stat-available-memory'];
  if (!r['last-update'] || total === undefined || free === undefined || avail === undefined || total < 0 || free < 0 || avail < 0) return undefined;
  return { totalBytes: total, freeBytes: free, availableBytes: avail, usedBytes: Math.max(0, total - avail) };
}
