import { readFile } from 'node:fs/promises';
import type { ProcOptions } from './qemu-process.js';
import type { DiskCounters } from '../instance-driver.js';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on every Linux architecture nimbo runs on). */
const USER_HZ = 100;

/** CPU time, resident memory and threads of a process, read from /proc (no spawn); undefined when it is gone. */
export async function procUsage(pid: number, opts: ProcOptions = {}): Promise<{ cpuSeconds: number; memoryBytes: number; pids: number } | undefined> {
  const proc = opts.procRoot ?? '/proc';
  try {
    const [stat, status] = await Promise.all([readFile(`${proc}/${pid}/stat`, 'utf8'), readFile(`${proc}/${pid}/status`, 'utf8')]);
    // Fields after the parenthesised comm (which may contain spaces): state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[14 - 3]) + Number(f[15 - 3]);
    const rssKiB = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0);
    // Threads, as a pids cgroup counts tasks: QEMU's vCPU and I/O threads.
    const threads = Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 1);
    return { cpuSeconds: Number.isFinite(ticks) ? ticks / USER_HZ : 0, memoryBytes: rssKiB * 1024, pids: threads };
  } catch {
    return undefined;
  }
}

/** One entry of QMP query-blockstats (the fields summed here). */
interface BlockStatsEntry {
  stats?: { rd_bytes?: number; wr_bytes?: number; rd_operations?: number; wr_operations?: number };
}

/** Sum QMP query-blockstats over the VM's block backends (each disk, the seed CD-ROM), as the guest's I/O. Pure. */
export function sumBlockStats(reply: unknown): DiskCounters {
  const d: DiskCounters = { readBytes: 0, writeBytes: 0, reads: 0, writes: 0 };
  for (const e of Array.isArray(reply) ? (reply as BlockStatsEntry[]) : []) {
    const s = e?.stats;
    if (!s) continue;
    d.readBytes += s.rd_bytes ?? 0;
    d.writeBytes += s.wr_bytes ?? 0;
    d.reads += s.rd_operations ?? 0;
    d.writes += s.wr_operations ?? 0;
  }
  return d;
}
