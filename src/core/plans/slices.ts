// Dedicated slices of one host, pure: which host cores each dedicated instance owns (no two share one)
// and how much memory is reserved for them (never more than the host has beyond its own reserve).
import { conflict } from '../../lib/errors.js';

/** The host's dedicated slices as kept in the store (keys.hostSlices): per instance UUID. */
export interface SliceState {
  cores: Record<string, number[]>;
  memoryMiB: Record<string, number>;
}

/** What the host has to give: its cores and memory, and what it keeps for itself and shared instances. */
export interface SliceHost {
  cpus: number;
  memoryMiB: number;
  /** The first `reserveCores` cores are never dedicated (the host, the daemon and shared instances run there). */
  reserveCores: number;
  /** Memory never reserved for dedicated instances. */
  reserveMiB: number;
}

/** An empty host. */
export const NO_SLICES: SliceState = { cores: {}, memoryMiB: {} };

/** Every core some dedicated instance owns, sorted. */
export function dedicatedCores(s: SliceState): number[] {
  return Object.values(s.cores).flat().sort((a, b) => a - b);
}

/** The cores shared instances may run on: all of the host's minus the dedicated ones. */
export function sharedCores(s: SliceState, host: Pick<SliceHost, 'cpus'>): number[] {
  const taken = new Set(dedicatedCores(s));
  return Array.from({ length: host.cpus }, (_, i) => i).filter((c) => !taken.has(c));
}

/**
 * Give instance `uuid` `vcpus` cores no other dedicated instance has and reserve `memoryMiB`; Conflict naming what
 * is missing when the host has not enough left. Already allocated: unchanged (a retried transaction).
 */
export function allocateSlice(s: SliceState, host: SliceHost, uuid: string, vcpus: number, memoryMiB: number): SliceState {
  if (s.cores[uuid]) return s;
  const taken = new Set(dedicatedCores(s));
  const free: number[] = [];
  for (let c = host.reserveCores; c < host.cpus; c++) if (!taken.has(c)) free.push(c);
  const usedMiB = Object.values(s.memoryMiB).reduce((a, b) => a + b, 0);
  const freeMiB = Math.max(0, host.memoryMiB - host.reserveMiB - usedMiB);
  const missing: string[] = [];
  if (free.length < vcpus) missing.push(`${vcpus} dedicated core(s) asked, ${free.length} left (the host has ${host.cpus}, keeps ${host.reserveCores} for itself and shared instances, ${taken.size} dedicated already)`);
  if (freeMiB < memoryMiB) missing.push(`${memoryMiB} MiB of memory asked, ${freeMiB} MiB left to reserve (host ${host.memoryMiB} MiB, ${host.reserveMiB} MiB kept for the host, ${usedMiB} MiB reserved already)`);
  if (missing.length) throw conflict(`no room for a dedicated instance on this host: ${missing.join('; ')}`);
  return { cores: { ...s.cores, [uuid]: free.slice(0, vcpus) }, memoryMiB: { ...s.memoryMiB, [uuid]: memoryMiB } };
}

/** The state without instance `uuid`'s slice. */
export function releaseSlice(s: SliceState, uuid: string): SliceState {
  const { [uuid]: _c, ...cores } = s.cores;
  const { [uuid]: _m, ...memoryMiB } = s.memoryMiB;
  return { cores, memoryMiB };
}
