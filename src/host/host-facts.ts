import { cpus, totalmem } from 'node:os';

/** This host's core count and memory in MiB (what dedicated slices are carved from). */
export function hostCapacity(): { cpus: number; memoryMiB: number } {
  return { cpus: cpus().length, memoryMiB: Math.floor(totalmem() / 1024 ** 2) };
}
