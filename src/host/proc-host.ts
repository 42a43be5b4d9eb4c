// Host-wide counters from /proc, read as files (no spawn): CPU time by mode, memory, load.
import { readFile } from 'node:fs/promises';

/** USER_HZ: clock ticks per second of /proc/stat (100 on every Linux architecture nimbo runs on). */
const USER_HZ = 100;
/** The modes of /proc/stat's cpu line, in the kernel's order (proc(5)). */
export const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;
/** One mode of CPU_MODES. */
export type CpuMode = (typeof CPU_MODES)[number];

/** What the host says about itself at one instant. */
export interface HostCounters {
  /** CPU seconds since boot by mode, all cores together. */
  cpuSeconds: Record<CpuMode, number>;
  cores: number;
  memoryTotalBytes: number;
  memoryAvailableBytes: number;
  load1: number;
  load5: number;
  load15: number;
}

/** Parse /proc/stat: the aggregate cpu line in seconds, and the number of cpuN lines. Pure. */
export function parseProcStat(text: string): { cpuSeconds: Record<CpuMode, number>; cores: number } {
  const line = /^cpu\s+(.*)$/m.exec(text);
  if (!line) throw new Error('/proc/stat has no cpu line');
  const f = line[1]!.trim().split(/\s+/).map(Number);
  const cpuSeconds = Object.fromEntries(CPU_MODES.map((m, i) => [m, (Number.isFinite(f[i]) ? f[i]! : 0) / USER_HZ])) as Record<CpuMode, number>;
  return { cpuSeconds, cores: (text.match(/^cpu\d+\s/gm) ?? []).length || 1 };
}

/** Parse /proc/meminfo's MemTotal and MemAvailable in bytes. Pure. */
export function parseMemInfo(text: string): { totalBytes: number; availableBytes: number } {
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)\\s+kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { totalBytes: kib('MemTotal'), availableBytes: kib('MemAvailable') };
}

/** Read /proc/stat, /proc/meminfo and /proc/loadavg (under `procRoot`, for tests). */
export async function readHostCounters(procRoot = '/proc'): Promise<HostCounters> {
  const [stat, mem, load] = await Promise.all(['stat', 'meminfo', 'loadavg'].map((f) => readFile(`${procRoot}/${f}`, 'utf8')));
  const s = parseProcStat(stat!);
  const m = parseMemInfo(mem!);
  const [l1, l5, l15] = load!.trim().split(/\s+/).map(Number);
  return { ...s, memoryTotalBytes: m.totalBytes, memoryAvailableBytes: m.availableBytes, load1: l1 ?? 0, load5: l5 ?? 0, load15: l15 ?? 0 };
}
