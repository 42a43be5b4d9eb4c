// The host cgroup files of containers: the daemon's parent cgroup and the OOM counter.
import { existsSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

/** Where cgroup hierarchies are mounted. */
export const CGROUP_ROOT = '/sys/fs/cgroup';

/** Remove this daemon's parent cgroup in every hierarchy once no container is left in it (rmdir fails otherwise). */
export function pruneCgroupParent(name: string, root = CGROUP_ROOT): void {
  const dirs = existsSync(join(root, 'cgroup.controllers')) ? [root] : readdirSync(root).map((c) => join(root, c));
  for (const d of dirs) {
    try {
      rmdirSync(join(d, name));
    } catch {
      /* absent, or still holding containers */
    }
  }
}

/** How many processes in cgroup `cgroupPath` the OOM killer has killed (v2 memory.events, v1 memory.oom_control); null if unknown. */
export function readOomKills(cgroupPath: string, root = CGROUP_ROOT): number | null {
  const rel = cgroupPath.replace(/^\/+/, '');
  const file = existsSync(join(root, 'cgroup.controllers')) ? join(root, rel, 'memory.events') : join(root, 'memory', rel, 'memory.oom_control');
  try {
    const m = /^oom_kill (\d+)$/m.exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
