// What a FakeInstanceDriver has "made on the host": plain maps and sets, so a unit test can assert that
// a failed or finished operation left nothing behind (see FakeHost.leftovers).
import type { PowerState, SnapshotData } from '../instance-driver.js';

/** One fake instance process. */
export interface FakeProcess {
  pid: number;
  state: Exclude<PowerState, 'stopped'>;
  /** NIC names and volume keys (pool/volume) plugged into the running process. */
  nics: Set<string>;
  volumes: Set<string>;
  startedAt: number;
}

/** Host objects of every instance a fake driver handles, keyed by instance uuid unless said otherwise. */
export class FakeHost {
  /** Running or paused processes. */
  readonly processes = new Map<string, FakeProcess>();
  /** Run and instance dirs (absolute paths as given in hostIds). */
  readonly dirs = new Set<string>();
  /** Host ends of NICs (taps/veths), by name. */
  readonly taps = new Set<string>();
  /** Volumes given to an instance (ownership/id shift done): `pool/volume` → uuid. */
  readonly volumes = new Map<string, string>();
  /** Volumes a process inside holds open: checkUnplugVolume refuses them. */
  readonly busyVolumes = new Set<string>();
  /** Snapshots the driver itself keeps (disk-images kind): uuid → name → data. */
  readonly snapshots = new Map<string, Map<string, SnapshotData>>();
  /** Seeds written by prepare(). */
  readonly seeds = new Map<string, Record<string, string>>();
  /** Last exit code and OOM kill count of each instance. */
  readonly exitCodes = new Map<string, number | null>();
  readonly oomKills = new Map<string, number>();
  /** Commands run by exec(). */
  readonly execs: { uuid: string; args: string[] }[] = [];
  private nextPid = 1000;

  /** A fresh fake pid. */
  pid(): number {
    return this.nextPid++;
  }

  /** Everything still on the "host" for one instance (or for all when uuid is omitted), as readable lines. */
  leftovers(uuid?: string, dirs: string[] = []): string[] {
    const out: string[] = [];
    for (const [id, p] of this.processes) if (!uuid || id === uuid) out.push(`process ${p.pid} of ${id}`);
    for (const [vol, id] of this.volumes) if (!uuid || id === uuid) out.push(`volume ${vol} given to ${id}`);
    for (const [id, snaps] of this.snapshots) if ((!uuid || id === uuid) && snaps.size) out.push(`snapshots ${[...snaps.keys()].join(',')} of ${id}`);
    for (const d of this.dirs) if (!uuid || dirs.includes(d)) out.push(`dir ${d}`);
    return out;
  }

  /** Everything left on the fake host at all (taps included, which are named by the caller). */
  allLeftovers(): string[] {
    return [...this.leftovers(), ...[...this.taps].map((t) => `tap ${t}`)];
  }
}
