/**
 * The arithmetic of bench/idle: CPU seconds out of /proc/PID/stat, and the CPU each kind of process
 * used between two snapshots. Pure, so a unit test can hold it to /proc's format.
 */

/** CPU seconds of one process: its own (all threads) and its waited-for children's. */
export interface Cpu {
  own: number;
  children: number;
}

/** What a process of the run is. */
export type Kind = 'daemon' | 'container' | 'vm' | 'helper';

/** The run's live processes at one moment: pid → kind and CPU so far. */
export type Snapshot = Map<number, { kind: Kind; cpu: Cpu }>;

/** CPU seconds per kind over a window (daemonChildren: what the daemon's reaped commands used), and how many processes of each kind were there at its end. */
export type Usage = Record<Kind | 'daemonChildren', number> & { procs: Record<Kind, number> };

/**
 * utime+stime and cutime+cstime (fields 14-17, in clock ticks) of a /proc/PID/stat line, in seconds.
 * The command name (field 2) is in parentheses and may hold spaces and ')' itself: fields are
 * counted from the last ')'.
 */
export function parseStat(stat: string, tick: number): Cpu {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
  const n = (i: number) => {
    const v = Number(f[i - 3]);
    if (!Number.isFinite(v)) throw new Error(`not a /proc/PID/stat line: ${stat.slice(0, 80)}`);
    return v;
  };
  return { own: (n(14) + n(15)) / tick, children: (n(16) + n(17)) / tick };
}

/** CPU per kind between snapshots a and b: a process born in between counts from 0; one that died in between is lost (its parent may have reaped it). */
export function used(a: Snapshot, b: Snapshot): Usage {
  const sum: Usage = { daemon: 0, daemonChildren: 0, container: 0, vm: 0, helper: 0, procs: { daemon: 0, container: 0, vm: 0, helper: 0 } };
  for (const [pid, { kind, cpu }] of b) {
    const before = a.get(pid);
    // A pid reused by another kind of process is a new process.
    const base = before && before.kind === kind ? before.cpu : { own: 0, children: 0 };
    sum[kind] += cpu.own - base.own;
    if (kind === 'daemon') sum.daemonChildren += cpu.children - base.children;
    sum.procs[kind]++;
  }
  return sum;
}
