import type { Instance, InstanceState, Nic } from '../shared/api-types.js';
import { DEFAULT_PROJECT, keys } from '../store/keys.js';
import type { ContainerInfo } from '../drivers/compute/runc/container-info.js';
import type { HostIds } from '../drivers/compute/instance-driver.js';
import { DEFAULT_ARCH, type GuestArch } from '../shared/arch-types.js';

/** An instance as kept in the store (desired configuration + last known state). */
export interface InstanceRecord {
  name: string;
  uuid: string;
  /** The project that owns it (names are unique within it); absent only on records older than version 3 (= 'default'). */
  project?: string;
  type: 'vm' | 'container';
  /** Record schema version (2: host ids pinned, desired state); absent = 1. */
  v?: number;
  /** The instance driver (registry name: qemu, runc); absent on version-1 records (from type). */
  driver?: string;
  /** Host identifiers, fixed at create (core/host-ids.ts); never recomputed from the name. */
  hostIds?: HostIds;
  /** Desired power state and what happens after a host reboot; the reconciler brings the host to it. */
  desired?: { power: 'running' | 'stopped' | 'paused'; autostart: 'last-state' | 'always' | 'never' };
  /** Free text shown in views. */
  description?: string;
  /** The driver's own part (qemu: { qemuId }, runc: ContainerInfo), as its plan() returned it; v1 records keep qemuId/container instead. */
  driverConfig?: unknown;
  /** Observed: processes the kernel killed for the memory limit, and how the main process last ended. */
  oomKills?: number;
  exitCode?: number;
  /** VMs only: the uid and gid QEMU runs as (core/vm-ids.ts); absent on records from before per-VM ids until the next start. */
  qemuId?: number;
  /** Containers only: id range, network namespace, stop signal, pids limit. */
  container?: ContainerInfo;
  image: string;
  cpus: number;
  memory: number;
  /** VMs: hot-add room set at launch, the most CPUs and memory (bytes) a live resize may grow to; absent = cpus/memory. */
  maxCpus?: number;
  maxMemory?: number;
  disk: number;
  sshKeys: string[];
  state: InstanceState;
  accelerator: string;
  /** VMs: the guest CPU architecture; absent = x86_64 (records from before arches, and containers). */
  arch?: GuestArch;
  nics: Nic[];
  /** The root disk: a volume in a storage pool, linked-cloned from the image. */
  root?: { pool: string; volume: string };
  /** Pool volumes attached as extra disks (re-attached at every start). */
  volumes?: { pool: string; volume: string; /** Containers: where the filesystem volume is mounted. */ path?: string }[];
  /** Scheduled snapshots (see core/snapshot-scheduler.ts). */
  snapshotSchedule?: { cron: string; expiry?: string; stateful?: boolean; lastRun: string };
  createdAt: string;
  error?: string;
  /** In rescue (core/vps-root-swap.ts): it boots `image` from the rescue root volume, its own root attached as a second disk. */
  rescue?: { image: string; root: { pool: string; volume: string }; since: string };
  /** Root's password as a SHA-512 crypt hash (password_reset), written into the seed: applied at the next boot. */
  passwordHash?: string;
  /** Free KEY=VALUE labels, set at launch (core/labels.ts). */
  labels?: Record<string, string>;
  /** The plan it was launched with (core/plans); its sizes and limits were copied in at launch. */
  plan?: string;
  /** Dedicated plans: the host cores it owns (core/plans/slices.ts), given at create. */
  slice?: { cores: number[] };
  /** VMs launched with --iso: their CD-ROM drive and the ISO image (a reference, as `image`) in it, null = empty; `image` names the ISO it was installed from. */
  cdrom?: { image: string | null };
  /** cloud-init user-data and vendor-data given at launch (core/metadata/). */
  userData?: string;
  vendorData?: string;
}

/** The driver of a record (version-1 records name none: their type says it). */
export const driverNameOf = (rec: Pick<InstanceRecord, 'driver' | 'type'>): string => rec.driver ?? (rec.type === 'container' ? 'runc' : 'qemu');

/** The most CPUs a live resize may reach: the launch maximum, or the size when that is larger (or none was set). */
export const maxCpusOf = (rec: Pick<InstanceRecord, 'cpus' | 'maxCpus'>): number => Math.max(rec.maxCpus ?? rec.cpus, rec.cpus);
/** The most memory (bytes) a live resize may reach (as maxCpusOf). */
export const maxMemoryOf = (rec: Pick<InstanceRecord, 'memory' | 'maxMemory'>): number => Math.max(rec.maxMemory ?? rec.memory, rec.memory);

/** Store key of an instance. */
export const instanceKey = (project: string, name: string) => keys.instance(project, name);

/** The project of a record (records older than projects belong to 'default'). */
export const projectOfRecord = (rec: { project?: string }): string => rec.project ?? DEFAULT_PROJECT;

/** An image reference as the record's project knows it (a private image PROJECT/NAME is shown by its name). */
const shownImage = (rec: InstanceRecord, ref: string): string => (ref.startsWith(`${projectOfRecord(rec)}/`) ? ref.slice(projectOfRecord(rec).length + 1) : ref);

/** The API view of a record. */
export function toInstance(rec: InstanceRecord, pid: number | null): Instance {
  return {
    id: rec.uuid,
    name: rec.name,
    type: rec.type,
    // A private image (PROJECT/NAME) is shown by its name, as its project knows it.
    image: shownImage(rec, rec.image),
    // A rescue boot shows as its own state; the record keeps running/stopped for the reconciler.
    state: rec.rescue && rec.state === 'running' ? 'rescue' : rec.state,
    ...(rec.rescue ? { rescue: { image: rec.rescue.image, since: rec.rescue.since } } : {}),
    ...(rec.cdrom ? { media: shownImage(rec, rec.cdrom.image ?? '') } : {}),
    accelerator: rec.accelerator,
    arch: rec.arch ?? DEFAULT_ARCH,
    cpus: rec.cpus,
    memory: rec.memory,
    ...(rec.maxCpus !== undefined ? { maxCpus: maxCpusOf(rec) } : {}),
    ...(rec.maxMemory !== undefined ? { maxMemory: maxMemoryOf(rec) } : {}),
    disk: rec.disk,
    addresses: rec.nics.map((n) => n.address.split('/')[0]!),
    nics: rec.nics,
    pid,
    ...((rec.oomKills ?? rec.container?.oomKills) ? { oomKills: rec.oomKills ?? rec.container?.oomKills } : {}),
    ...((rec.exitCode ?? rec.container?.exitCode) !== undefined ? { exitCode: rec.exitCode ?? rec.container?.exitCode } : {}),
    ...(rec.error ? { error: rec.error } : {}),
    ...(rec.labels ? { labels: rec.labels } : {}),
    ...(rec.plan ? { plan: rec.plan } : {}),
    ...(rec.slice ? { dedicatedCores: rec.slice.cores } : {}),
    description: rec.description ?? '',
    autostart: rec.desired?.autostart ?? 'last-state',
    createdAt: rec.createdAt,
  };
}
