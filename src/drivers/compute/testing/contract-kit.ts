/** The types and helpers the instance-driver contract cases share. */
import type { Nic } from '../../../shared/api-types.js';
import type { DriverEvent, HostIds, InstanceDriver, InstanceRef, InstanceSpec, PlanInput, PrepareInput, VolumeSnapshotPort, VolumeSpec } from '../instance-driver.js';

/** One driver under test and how to make instances for it. */
export interface InstanceContractTarget {
  label: string;
  /** Why the suite cannot run here (never under CI=true: the caller fails instead), or false. */
  skip?: string | false;
  /** Generous per-case timeout (TCG VMs are slow). */
  timeoutMs?: number;
  driver(): Promise<InstanceDriver>;
  /** The driver-only create fields (app process, limits) for plan(); ids are added by the suite. */
  planInput?(base: { uuid: string; name: string }): Partial<PlanInput>;
  /** Ids the driver may take (real drivers need ids free on this host); default: counting from 1000. */
  allocateId?(kind: 'vm-uid' | 'id-range'): Promise<number>;
  releaseId?(kind: 'vm-uid' | 'id-range', id: number): Promise<void>;
  /** Host ids of the instance under test (per-run names; the target removes what is left under them). */
  hostIds(uuid: string): HostIds;
  /** Host ids, root volume and the rest of the spec of a planned instance (driverConfig from plan()). */
  spec(ref: InstanceRef): Promise<InstanceSpec>;
  /** The seed and root input for prepare(). */
  prepareInput(spec: InstanceSpec): PrepareInput;
  /** Resolves once the instance really runs its workload (VM: a boot marker on the console); default: at once. */
  ready?(spec: InstanceSpec, driver: InstanceDriver): Promise<void>;
  /** A NIC to hot-plug (its network already in spec.networks), or undefined to leave the NIC case out. */
  nic?(spec: InstanceSpec): Promise<Nic | undefined>;
  /** A fresh pool volume of the driver's volume kind to hot-plug, or undefined to leave the volume case out. */
  volume?(spec: InstanceSpec): Promise<VolumeSpec | undefined>;
  /** Whether a plugged NIC / volume is seen inside the running instance (optional, stronger check). */
  sees?: { nic?(spec: InstanceSpec, nic: Nic): Promise<boolean>; volume?(spec: InstanceSpec, vol: VolumeSpec): Promise<boolean> };
  /** Pool snapshots for 'pool-volumes' drivers. */
  vols: VolumeSnapshotPort;
  /** Kill the instance's main process from outside, without asking the driver (default: SIGKILL to its pid). */
  kill?(spec: InstanceSpec, pid: number | null): Promise<void>;
  /** The graceful stop's timeout before the hard stop (default 30 s). */
  stopTimeoutMs?: number;
  /** Exited events may take this long to arrive (default 10 s). */
  eventTimeoutMs?: number;
  /** What the driver left on the host for this instance after destroy(): must be empty. */
  leftovers(spec: InstanceSpec): Promise<string[]>;
  /** Remove what the target itself made (volumes, networks, dirs). */
  cleanup(): Promise<void>;
}

/** What each case gets: the target, its driver, and the one instance the suite walks through its life. */
export interface InstanceContractCtx {
  t: InstanceContractTarget;
  d: InstanceDriver;
  spec: InstanceSpec;
  /** Every event the driver emitted since the suite began. */
  events: DriverEvent[];
  /** Ids plan() took, to check release() gives them back. */
  ids: Map<string, { kind: 'vm-uid' | 'id-range'; id: number }>;
  planInput(): PlanInput;
}

/** One named contract case. */
export interface InstanceContractCase {
  name: string;
  run(c: InstanceContractCtx): Promise<void>;
}

/** Assert that p rejects with a NimboError of this code (and message): the storage contract's helper. */
export { rejectsWith } from '../../storage/testing/contract-kit.js';

/** Poll `check` until it returns a value other than undefined/false, or fail after `ms`. */
export async function until<T>(what: string, ms: number, check: () => Promise<T | undefined | false> | T | undefined | false): Promise<T> {
  const end = Date.now() + ms;
  for (let delay = 20; ; delay = Math.min(500, delay * 2)) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Wait until the driver reports `state`. */
export async function statusBecomes(c: InstanceContractCtx, state: 'running' | 'paused' | 'stopped', ms = 30_000) {
  return until(`status ${state}`, ms, async () => {
    const s = await c.d.status(c.spec);
    return s.state === state ? s : undefined;
  });
}
