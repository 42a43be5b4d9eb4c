// A container's usage read straight from its cgroup files (no `runc events` spawn): CPU time, memory, tasks
// and block I/O, on cgroup v1 (one hierarchy per controller) and v2 (one unified tree).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiskCounters } from '../instance-driver.js';
import { CGROUP_ROOT } from './cgroups.js';

/** What the cgroup files say; undefined parts were unreadable. */
export interface CgroupUsage {
  cpuSeconds: number;
  memoryBytes: number;
  pids: number;
  disk?: DiskCounters;
}

/** Sum v1 blkio.throttle.io_service_bytes(_recursive) / io_serviced lines ("MAJ:MIN Read N"). Pure. */
export function parseBlkioV1(text: string): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const m of text.matchAll(/^\d+:\d+ (Read|Write) (\d+)$/gm)) {
    if (m[1] === 'Read') read += Number(m[2]);
    else write += Number(m[2]);
  }
  return { read, write };
}

/** Sum v2 io.stat lines ("MAJ:MIN rbytes=N wbytes=N rios=N wios=N ..."). Pure. */
export function parseIoStatV2(text: string): DiskCounters {
  const d: DiskCounters = { readBytes: 0, writeBytes: 0, reads: 0, writes: 0 };
  const field = { rbytes: 'readBytes', wbytes: 'writeBytes', rios: 'reads', wios: 'writes' } as const;
  for (const m of text.matchAll(/\b(rbytes|wbytes|rios|wios)=(\d+)/g)) d[field[m[1] as keyof typeof field]] += Number(m[2]);
  return d;
}

const num = (s: string): number => {
  const n = Number(s.trim());
  return Number.isFinite(n) ? n : 0;
};
const opt = (p: Promise<string>): Promise<string | undefined> => p.catch(() => undefined);

/** The usage of cgroup `cgroupPath` (runc's cgroupsPath); undefined when its CPU or memory file is absent (the container is gone). */
export async function readCgroupUsage(cgroupPath: string, root = CGROUP_ROOT): Promise<CgroupUsage | undefined> {
  const rel = cgroupPath.replace(/^\/+/, '');
  const rd = (...p: string[]) => readFile(join(root, ...p), 'utf8');
  try {
    if (existsSync(join(root, 'cgroup.controllers'))) {
      const [cpu, mem, pids, io] = await Promise.all([rd(rel, 'cpu.stat'), rd(rel, 'memory.current'), opt(rd(rel, 'pids.current')), opt(rd(rel, 'io.stat'))]);
      const usec = Number(/^usage_usec (\d+)$/m.exec(cpu)?.[1] ?? 0);
      return { cpuSeconds: usec / 1e6, memoryBytes: num(mem), pids: pids ? num(pids) : 0, ...(io !== undefined ? { disk: parseIoStatV2(io) } : {}) };
    }
    // v1: the *_recursive blkio files include child cgroups (a system container's own services).
    const [cpu, mem, pids, bytes, ops] = await Promise.all([
      rd('cpuacct', rel, 'cpuacct.usage'), rd('memory', rel, 'memory.usage_in_bytes'), opt(rd('pids', rel, 'pids.current')),
      opt(rd('blkio', rel, 'blkio.throttle.io_service_bytes_recursive')), opt(rd('blkio', rel, 'blkio.throttle.io_serviced_recursive')),
    ]);
    const b = bytes !== undefined ? parseBlkioV1(bytes) : undefined;
    const o = ops !== undefined ? parseBlkioV1(ops) : undefined;
    return {
      cpuSeconds: num(cpu) / 1e9,
      memoryBytes: num(mem),
      pids: pids ? num(pids) : 0,
      ...(b && o ? { disk: { readBytes: b.read, writeBytes: b.write, reads: o.read, writes: o.write } } : {}),
    };
  } catch {
    return undefined;
  }
}
