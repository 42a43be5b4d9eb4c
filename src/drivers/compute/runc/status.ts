// A container's state without running the runtime: what `runc state` computes, read from the
// same files (runc's state.json under its --root, /proc/<pid>/stat, the cgroup freezer, the
// exec FIFO of a created container). A status of 100 containers costs file reads, no processes.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PowerState } from '../instance-driver.js';
import { CGROUP_ROOT } from './cgroups.js';
import { parseExitFile } from './exit-shim.js';

/** Where the files status reads live (tests point them at temp dirs). */
export interface StatusPaths {
  /** The runtime's --root (STATE/run/runc). */
  runcRoot: string;
  proc: string;
  cgroupRoot: string;
}
export const hostStatusPaths = (runcRoot: string): StatusPaths => ({ runcRoot, proc: '/proc', cgroupRoot: CGROUP_ROOT });

/** What runc keeps of a container that status needs (its state.json). */
interface RuncStateFile {
  init_process_pid?: number;
  init_process_start?: number | string;
  cgroup_paths?: Record<string, string>;
}

/** runc's record of container `id` (its state.json), or null when runc has none. */
function readStateFile(paths: StatusPaths, id: string): RuncStateFile | null {
  try {
    return JSON.parse(readFileSync(join(paths.runcRoot, id, 'state.json'), 'utf8')) as RuncStateFile;
  } catch {
    return null;
  }
}

/** The init process of container `id` as runc recorded it (pid and start time), or null. */
export function readInit(paths: StatusPaths, id: string): { pid: number; start?: number | string } | null {
  const st = readStateFile(paths, id);
  return st?.init_process_pid ? { pid: st.init_process_pid, ...(st.init_process_start !== undefined ? { start: st.init_process_start } : {}) } : null;
}

/** The state and pid of init of container `id`: 'stopped' when runc has no such container or its init is gone. */
export function readLiveState(paths: StatusPaths, id: string, cgroup?: string): { state: PowerState; pid: number | null } {
  const st = readStateFile(paths, id);
  const pid = st?.init_process_pid;
  if (!st || !pid || !initAlive(paths.proc, pid, st.init_process_start)) return { state: 'stopped', pid: null };
  return { state: isFrozen(paths.cgroupRoot, st.cgroup_paths, cgroup) ? 'paused' : 'running', pid };
}

/** Whether process `pid` is the init runc started (same start time, not a zombie): pids are reused. */
export function initAlive(proc: string, pid: number, start: number | string | undefined): boolean {
  let stat: string;
  try {
    stat = readFileSync(join(proc, String(pid), 'stat'), 'utf8');
  } catch {
    return false;
  }
  // Fields after the command (which may hold spaces and parentheses): state is field 3, starttime field 22.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (f[0] === 'Z' || f[0] === 'X') return false;
  return start === undefined || String(start) === f[19];
}

/**
 * Whether the container's cgroup is frozen (paused). runc freezes through the v1 freezer when the
 * host has one (hybrid hosts too, whose unified dir then never shows it), else through cgroup.freeze.
 */
function isFrozen(cgroupRoot: string, cgroupPaths: Record<string, string> | undefined, cgroup?: string): boolean {
  const rel = (cgroup ?? '').replace(/^\/+/, '');
  const unified = existsSync(join(cgroupRoot, 'cgroup.controllers'));
  const v1 = cgroupPaths?.freezer ?? (!cgroupPaths && rel && !unified ? join(cgroupRoot, 'freezer', rel) : undefined);
  const v2 = cgroupPaths?.[''] ?? (!cgroupPaths && rel && unified ? join(cgroupRoot, rel) : undefined);
  try {
    if (v1) return readFileSync(join(v1, 'freezer.state'), 'utf8').trim() === 'FROZEN';
    return v2 ? readFileSync(join(v2, 'cgroup.freeze'), 'utf8').trim() === '1' : false;
  } catch {
    return false;
  }
}

/** How init last ended, as the exit shim wrote it (file `exitFile`); null when unknown (running, or started without the file). */
export function readExitCode(exitFile: string): number | null {
  try {
    return parseExitFile(readFileSync(exitFile, 'utf8'));
  } catch {
    return null;
  }
}
