// Which CPUs and DIMMs a live grow adds (pure): from what QEMU says it has (query-hotpluggable-cpus,
// query-memory-size-summary, query-memory-devices) and the size asked for. Growing only: a smaller size
// needs a stop (unplugging CPUs or memory needs the guest to let go of them first).
import { conflict, invalid } from '../../../lib/errors.js';

const MiB = 1024 ** 2;
/** Linux on x86-64 onlines hot-added memory in 128 MiB blocks: a DIMM of another size would be partly unusable. */
export const MEMORY_BLOCK_BYTES = 128 * MiB;

/** One entry of query-hotpluggable-cpus (qom-path set: the CPU is there). */
export interface HotpluggableCpu {
  type: string;
  'vcpus-count': number;
  props: Record<string, number>;
  'qom-path'?: string;
}

/** One entry of query-memory-devices (pc-dimm and others). */
export interface MemoryDevice {
  type: string;
  data: { id?: string; size: number };
}

/** What QEMU has now. */
export interface HotplugState {
  cpus: HotpluggableCpu[];
  memory: { 'base-memory': number; 'plugged-memory'?: number };
  devices: MemoryDevice[];
}

/** The size asked for, and the maximum the VM was started with. */
export interface HotplugWant {
  cpus: number;
  memoryBytes: number;
  maxCpus: number;
  maxMemoryBytes: number;
  /** DIMM slots of its -m (argv.ts MEMORY_SLOTS). */
  slots: number;
}

/** A device_add of one CPU. */
export interface CpuAdd {
  driver: string;
  id: string;
  props: Record<string, number>;
}

/** A memory-backend-ram object plus the pc-dimm that uses it. */
export interface DimmAdd {
  id: string;
  memdev: string;
  bytes: number;
}

/** What a grow adds: nothing in either list means that part is already at the size asked for. */
export interface HotplugPlan {
  cpus: CpuAdd[];
  dimms: DimmAdd[];
  /** What the VM has before the grow. */
  before: { cpus: number; memoryBytes: number };
}

/** vCPUs present now (one per present entry, times its vcpus-count). */
export function presentCpus(cpus: HotpluggableCpu[]): number {
  return cpus.filter((c) => c['qom-path'] !== undefined).reduce((n, c) => n + (c['vcpus-count'] || 1), 0);
}

/** Memory present now: boot memory plus every plugged DIMM. */
export function presentMemory(memory: HotplugState['memory']): number {
  return memory['base-memory'] + (memory['plugged-memory'] ?? 0);
}

/** The qdev id of a hot-added CPU, from its topology (stable: one id per slot). */
export function cpuDeviceId(props: Record<string, number>): string {
  return `cpu-${props['socket-id'] ?? 0}-${props['core-id'] ?? 0}-${props['thread-id'] ?? 0}`;
}

const order = (a: HotpluggableCpu, b: HotpluggableCpu): number => {
  for (const k of ['socket-id', 'die-id', 'core-id', 'thread-id']) {
    const d = (a.props[k] ?? 0) - (b.props[k] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
};

/**
 * The CPUs (lowest free slots first) and the one DIMM a grow to `want` adds. InvalidArgument past the maximum or for
 * memory not in 128 MiB steps; Conflict for a shrink (needs a stop) or when every DIMM slot is used (needs a restart).
 */
export function planHotAdd(state: HotplugState, want: HotplugWant): HotplugPlan {
  const before = { cpus: presentCpus(state.cpus), memoryBytes: presentMemory(state.memory) };
  const slots = state.cpus.reduce((n, c) => n + (c['vcpus-count'] || 1), 0);
  const maxCpus = Math.min(want.maxCpus, slots);
  if (want.cpus > maxCpus) throw invalid(`${want.cpus} vCPUs is past this VM's maximum of ${maxCpus} (set at launch with --max-cpus; a larger maximum needs a stop)`);
  if (want.memoryBytes > want.maxMemoryBytes) {
    throw invalid(`${want.memoryBytes / MiB} MiB of memory is past this VM's maximum of ${want.maxMemoryBytes / MiB} MiB (set at launch with --max-memory; a larger maximum needs a stop)`);
  }
  if (want.cpus < before.cpus) throw conflict(`the VM runs with ${before.cpus} vCPUs: going down to ${want.cpus} needs a stop (CPUs are only added live)`);
  if (want.memoryBytes < before.memoryBytes) {
    throw conflict(`the VM runs with ${before.memoryBytes / MiB} MiB of memory: going down to ${want.memoryBytes / MiB} MiB needs a stop (memory is only added live)`);
  }
  const free = state.cpus.filter((c) => c['qom-path'] === undefined).sort(order);
  const cpus: CpuAdd[] = [];
  for (let have = before.cpus; have < want.cpus; ) {
    const c = free.shift();
    if (!c) throw invalid(`${want.cpus} vCPUs is past this VM's maximum of ${slots}`);
    cpus.push({ driver: c.type, id: cpuDeviceId(c.props), props: { ...c.props } });
    have += c['vcpus-count'] || 1;
  }
  const delta = want.memoryBytes - before.memoryBytes;
  const dimms: DimmAdd[] = [];
  if (delta > 0) {
    if (delta % MEMORY_BLOCK_BYTES !== 0) {
      throw invalid(`memory grows live in steps of ${MEMORY_BLOCK_BYTES / MiB} MiB: ${want.memoryBytes / MiB} MiB is ${delta / MiB} MiB more than the ${before.memoryBytes / MiB} MiB it runs with`);
    }
    const dimmsNow = state.devices.filter((d) => d.type === 'dimm');
    if (dimmsNow.length >= want.slots) throw conflict(`all ${want.slots} memory slots of the running VM are used: a restart folds its added memory into one block, then it can grow again`);
    const used = new Set(state.devices.map((d) => d.data.id));
    let n = 0;
    while (used.has(`dimm${n}`)) n++;
    dimms.push({ id: `dimm${n}`, memdev: `mem-dimm${n}`, bytes: delta });
  }
  return { cpus, dimms, before };
}
