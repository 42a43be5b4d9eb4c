// The one interface every instance runtime implements (qemu VMs, runc containers; a third runtime is a
// folder plus a line in registry.ts). Drivers are stateless per instance: each call gets the instance's
// spec, already resolved by core (pools, networks, images), and never reads the store. Core chooses
// behaviour from capabilities(), never from the instance type.
import type { Duplex } from 'node:stream';
import type { ChildProcess } from '../../host/spawn.js';
import type { IoLimits } from '../../shared/storage-types.js';
import type { Nic } from '../../shared/api-types.js';
import type { Accelerator, VmBoot } from './types.js';
import type { BlockBackupRequest, BlockBackupSession, FsBackupSession } from '../../shared/backup-source.js';
import type { ArchSupport, GuestArch } from '../../shared/arch-types.js';
import type { GuestAgentPort } from './guest-agent-port.js';

/** The API's instance type; only the registry maps it to a driver. */
export type InstanceKind = 'vm' | 'container';

/** Host identifiers of one instance, fixed at create from its UUID (legacy records: from its name), kept in the record. */
export interface HostIds {
  /** STATE/run/<uuid>: sockets, pidfile, logs, exit file. */
  runDir: string;
  /** STATE/instances/<uuid>: seed, bundle, per-instance files. */
  instanceDir: string;
  /** runc: the runtime's container id (<prefix>-<uuid>). */
  runtimeId?: string;
  /** runc: the container's cgroupsPath (/nimbo-<prefix>/<uuid>). */
  cgroup?: string;
}

/** What a driver can do; services branch on these, never on the type. */
export interface DriverCapabilities {
  kind: InstanceKind;
  /** The root: 'image-clone' = a block volume cloned from the image's disk; 'filesystem' = a filesystem volume over the image's tree. */
  root: 'image-clone' | 'filesystem';
  /** The root filesystem volume can carry a size quota (--disk); without one the root has no size. */
  rootQuota: boolean;
  /** Chooses KVM or TCG. */
  accelerator: boolean;
  /** Takes pids, cpuWeight, swap and disk-rate limits. */
  processLimits: boolean;
  /** Runs OCI application images (--app). */
  app: boolean;
  /** The kind of pool volume it attaches, and whether an attach names a mount path. */
  volumeKind: 'block' | 'filesystem';
  volumeMountPath: boolean;
  /** Grows disks and changes their I/O limits while running. */
  liveDiskResize: boolean;
  /** NICs given at boot can be unplugged while running. */
  unplugBootNics: boolean;
  /** 'disk-images': qcow2 internal snapshots of its disks (stateful possible); 'pool-volumes': pool snapshots of its volumes. */
  snapshots: 'disk-images' | 'pool-volumes';
  statefulSnapshots: boolean;
  /** How a backup reads it: 'block' = its disks at one instant (openBlockBackup), 'filesystem' = its root tree (openFsBackup). */
  backup: 'block' | 'filesystem';
  /** 'serial': a relayed serial console (sockets in the run dir); 'pty': a login shell on a pty. */
  console: 'serial' | 'pty';
  /** exec and file push/pull inside the instance. */
  exec: boolean;
  /** Takes firmware, secureBoot and tpm at launch (VMs). */
  firmware?: boolean;
  /** Hint shown when exec is refused (e.g. "use ssh or the console"). */
  execHint?: string;
  /** Adds CPUs and memory to a running instance up to the maximum set at launch (resizeLive). */
  liveResize?: boolean;
}

/** The instance as every driver call sees it. */
export interface InstanceRef {
  uuid: string;
  /** Shown in messages and as the guest's name; never part of a host id. */
  name: string;
  hostIds: HostIds;
  /** The driver's own part of the record (qemu: { qemuId }, runc: ContainerInfo), as the driver returned it from plan(). */
  driverConfig: unknown;
}

/** A pool volume as a driver sees it: its host path, resolved by core. */
export interface VolumeSpec {
  pool: string;
  volume: string;
  path: string;
  format?: 'qcow2' | 'raw';
  limits: IoLimits;
  /** Filesystem volumes: where it is mounted inside the instance. */
  mountPath?: string;
  /** Filesystem volumes: the first host id its files belong to now (from an earlier owner), if shifted. */
  idOwner?: number;
}

/** A network as a driver needs it (application containers write /etc files from it). */
export interface NetworkSpec {
  name: string;
  gateway: string;
  mode: string;
}

/** Everything start() needs, resolved by core. */
export interface InstanceSpec extends InstanceRef {
  cpus: number;
  memoryBytes: number;
  /** Capability liveResize: the most CPUs and memory it may grow to while it runs (absent: its size, no room). */
  maxCpus?: number;
  maxMemoryBytes?: number;
  accelerator?: Accelerator;
  /** VMs: the guest CPU architecture (absent = x86_64). */
  arch?: GuestArch;
  /** How the image boots (VMs). */
  boot?: VmBoot;
  root: { pool: string; volume: string; path: string; format?: 'qcow2' | 'raw'; /** Its I/O limits (0 = unlimited). */ limits?: IoLimits };
  /** Host cores it may run on: a dedicated slice's own, or the cores no dedicated instance has; absent = all. */
  cpuset?: number[];
  /** Its cores are its own (a dedicated slice): a driver that can pins each vCPU to one of them. */
  dedicated?: boolean;
  nics: Nic[];
  /** VMs installed from an ISO: a CD-ROM drive (booted first, no cloud-init seed) and the ISO file in it (absent = empty). */
  cdrom?: { path?: string };
  volumes: VolumeSpec[];
  /** The networks of its NICs by name. */
  networks: Map<string, NetworkSpec>;
  /** Start warm (VMs): restore a booted template's saved state, then give the guest this instance's identity. */
  warm?: WarmStart;
}

/** A warm start from a template: its saved state, and what the restored guest must learn (see qemu/warm-reseed.ts). */
export interface WarmStart {
  /** The template's device + RAM state file. */
  stateFile: string;
  /** The instance's seed files (renderSeed: nimbo/hostname, nimbo/authorized_keys, nimbo/net-ethN, ...). */
  seed: Record<string, string>;
  /** The MACs the template's guest has on its NICs, in order (the new ones are in the seed). */
  templateMacs: string[];
  /** The line prefix the image prints on ttyS0 once ready (`<marker> <hostname>`). */
  readyMarker?: string;
}

/** What a VM template needs to be restored: its saved state's exact hardware shape. */
export interface VmTemplateShape {
  cpus: number;
  memoryBytes: number;
  machine: string;
  arch: string;
  accelerator: Accelerator;
  /** The MACs of its boot NICs, in order (the device count the state holds). */
  nicMacs: string[];
  /** The saved state's size in bytes. */
  stateBytes: number;
}

/** Observed power state. */
export type PowerState = 'running' | 'paused' | 'stopped';

/** Block I/O counters of an instance since it started (VMs: QEMU's blockstats of its disks; containers: the cgroup's). */
export interface DiskCounters {
  readBytes: number;
  writeBytes: number;
  reads: number;
  writes: number;
}

/** Memory as a VM's guest sees it (its balloon driver's statistics), bytes. */
export interface GuestMemoryUsage {
  totalBytes: number;
  freeBytes: number;
  availableBytes: number;
  usedBytes: number;
}

/** What the host says about an instance. */
export interface InstanceStatus {
  state: PowerState;
  pid: number | null;
  /** `disk` when the driver can count it cheaply (optional: a driver may leave it out). */
  usage?: { cpuSeconds: number; memoryBytes: number; pids: number; disk?: DiskCounters; /** VMs: memory as the guest sees it (balloon statistics). */ guestMemory?: GuestMemoryUsage };
  /** How the main process last ended (runc: the exit shim's file), or null when unknown. */
  exitCode?: number | null;
  /** Processes the kernel killed for the memory limit. */
  oomKills?: number | null;
}

/** Something a driver saw happen to an instance without being asked; the reconciler looks at it. */
export type DriverEvent =
  | {
      type: 'exited';
      uuid: string;
      exitCode: number | null;
      /**
       * true: the instance ended as it wanted to and should stay stopped (the guest powered off, init exited 0,
       * an app whose restart policy says so); false: a crash or kill, to be started again if it should run.
       */
      requested: boolean;
    }
  | { type: 'paused' | 'resumed'; uuid: string };

/** The driver-owned part of an instance snapshot (kept in the snapshot record). */
export interface SnapshotData {
  stateful: boolean;
  /** disk-images: the images it covers, and the nodes QEMU saved live. */
  disks: { id: string; path: string }[];
  vmDisks?: string[];
  /** A disk-only snapshot of a running VM: application (its guest agent froze the filesystems) or crash. */
  consistency?: 'application' | 'crash';
  /** consistency application: how long the guest's filesystems were frozen (ms). */
  frozenMs?: number;
  /** pool-volumes: the volumes it covers, root first (restore and delete use these, not today's attachments). */
  volumes?: { pool: string; volume: string }[];
}

/** Pool snapshots lent to drivers whose snapshots are pool snapshots (core's storage service). */
export interface VolumeSnapshotPort {
  create(pool: string, volume: string, snapshot: string): Promise<void>;
  restore(pool: string, volume: string, snapshot: string): Promise<void>;
  remove(pool: string, volume: string, snapshot: string): Promise<void>;
}

/** What create asks of plan(): the driver-only fields of the request, raw. */
export interface PlanInput {
  uuid: string;
  name: string;
  image: string;
  /** Application containers: the user as the request or the image config named it (messages only). */
  appUser?: string;
  pids?: number;
  cpuWeight?: number;
  swap?: string | number;
  diskRates?: { readBps?: number; writeBps?: number; readIops?: number; writeIops?: number };
  /** Application containers: the process resolved from the OCI image config and the request (core reads the image). */
  app?: { args: string[]; env: string[]; cwd: string; uid: number; gid: number; restart: 'never' | 'on-failure' | 'always' };
  /** VMs: firmware (bios, the default, or uefi), Secure Boot (uefi only) and an emulated TPM 2.0. */
  firmware?: string;
  secureBoot?: boolean;
  tpm?: boolean;
  /** A copy: the source's driverConfig, whose settings the copy keeps (its ids are allocated anew). */
  from?: unknown;
  /**
   * Ids reserved in the store by core (compare-and-swap, never shared): 'vm-uid' returns the uid itself,
   * 'id-range' a slot number n (the driver maps it to its host ids); releaseId takes the same number back.
   */
  allocateId(kind: 'vm-uid' | 'id-range'): Promise<number>;
  releaseId(kind: 'vm-uid' | 'id-range', id: number): Promise<void>;
}

/** Seed and root for a new instance. */
export interface PrepareInput {
  /** cloud-init NoCloud files (meta-data, user-data, network-config). */
  seed: Record<string, string>;
  /** filesystem roots: the image's unpacked tree (the overlay's lower dir). */
  lowerDir?: string;
  /** 'copy': the root volume is a clone of another instance's root (filesystem roots are re-targeted, not made); 'keep': the root is there, only the seed is written again. */
  root: 'new' | 'copy' | 'keep';
  /** copy: the source's first host id (filesystem roots are shifted from it). */
  fromIdOwner?: number;
}

/** A live serial console: guest output to subscribers and a bounded log, keystrokes to the guest. */
export interface ConsoleRelay {
  onData(cb: (chunk: Buffer) => void): () => void;
  write(data: Buffer | string): void;
  tail(bytes: number): Buffer;
  close(): void;
}

/** A console: the serial relay the driver keeps while the instance runs, or a fresh login shell on a pty. */
export type ConsoleHandle = { kind: 'serial'; relay: ConsoleRelay } | { kind: 'pty'; child: ChildProcess };

/** One runtime for instances. */
export interface InstanceDriver {
  readonly name: string;
  capabilities(): DriverCapabilities;
  /** Validate the driver-only request fields and allocate its host ids; returns the driverConfig to store. */
  plan(req: PlanInput): Promise<unknown>;
  /** Give back what plan() allocated (create rollback, delete). */
  release(ref: InstanceRef, ids: Pick<PlanInput, 'releaseId'>): Promise<void>;
  /** Write the seed and (filesystem roots) make the root inside spec.root.path. */
  prepare(spec: InstanceSpec, input: PrepareInput): Promise<void>;
  /** Undo prepare()'s root in spec.root.path (unmount, remove a filesystem root's files; nothing for image clones); the volume and the instance's dirs stay. Rebuild and rescue swap roots with it. */
  removeRoot(ref: InstanceRef, root: { path: string }): Promise<void>;
  /** Start (or re-create after a host reboot); boot-time NICs and volumes come from the spec, hot-plugged ones are plugged again. */
  start(spec: InstanceSpec): Promise<void>;
  /** ACPI power-down / stop signal, hard stop after timeoutMs; force: hard stop at once. */
  stop(ref: InstanceRef, opts: { timeoutMs: number; force: boolean }): Promise<void>;
  pause(ref: InstanceRef): Promise<void>;
  resume(ref: InstanceRef): Promise<void>;
  /**
   * Capability liveResize: grow the running instance to `want` (CPUs and memory; InvalidArgument past its maximum,
   * Conflict for a shrink) and return what it has afterwards.
   */
  resizeLive?(ref: InstanceRef, want: { cpus: number; memoryBytes: number; maxCpus: number; maxMemoryBytes: number }): Promise<{ cpus: number; memoryBytes: number }>;
  /** Optional: the guest architectures it runs and what this host lacks for each (absent: only the host's own). */
  archSupport?(): ArchSupport[];
  /** Optional, live: run the instance on these host cores from now on (`dedicated`: each vCPU on one of its own). */
  setCpuset?(ref: InstanceRef, cores: number[], dedicated: boolean): Promise<void>;
  /** Cheap: no process spawn unless `usage` is asked for (qemu and runc read /proc, QMP and cgroup files: none then either). */
  status(ref: InstanceRef, opts?: { usage?: boolean }): Promise<InstanceStatus>;
  /** Remove host objects only (process, runtime state, run and instance dirs, netns, taps/veths, root mount); never volumes. */
  destroy(ref: InstanceRef, nics: Nic[], root?: { path: string }): Promise<void>;
  /** After a daemon start: resume watching a live instance (QMP events, exit files). */
  adopt(ref: InstanceRef): Promise<void>;
  /** Host end of a new NIC (tap/veth) and, when live, into the running instance. */
  plugNic(spec: InstanceSpec, nic: Nic, live: boolean): Promise<void>;
  unplugNic(spec: InstanceSpec, nic: Nic, live: boolean): Promise<void>;
  /** Refuse (Conflict) at once while the volume cannot be unplugged (a process holds it). */
  checkUnplugVolume(ref: InstanceRef, vol: VolumeSpec): Promise<void>;
  /** Give the volume to the instance (ownership, id shift) and plug it when live; returns the new id owner when it shifted ids. */
  plugVolume(spec: InstanceSpec, vol: VolumeSpec, live: boolean): Promise<{ idOwner?: number }>;
  unplugVolume(ref: InstanceRef, vol: VolumeSpec, live: boolean): Promise<void>;
  /** Live only (capability liveDiskResize): grow a disk / set its limits in the running instance. */
  resizeVolume(ref: InstanceRef, vol: { pool: string; volume: string } | 'root', bytes: number): Promise<void>;
  setVolumeLimits(ref: InstanceRef, vol: { pool: string; volume: string } | 'root', limits: IoLimits): Promise<void>;
  /** Take a snapshot named `name` of every disk/volume of the instance; `vols` does pool snapshots. */
  snapshot(spec: InstanceSpec, req: { name: string; stateful: boolean }, vols: VolumeSnapshotPort, progress?: (pct: number, msg: string) => void): Promise<SnapshotData>;
  restoreSnapshot(spec: InstanceSpec, name: string, data: SnapshotData, vols: VolumeSnapshotPort): Promise<void>;
  deleteSnapshot(spec: InstanceSpec, name: string, data: SnapshotData, vols: VolumeSnapshotPort): Promise<void>;
  /** Capability backup 'block': open every disk at one instant (fleecing when it runs, its images when stopped), with dirty bitmaps. */
  openBlockBackup?(spec: InstanceSpec, req: BlockBackupRequest, log: (line: string) => void): Promise<BlockBackupSession>;
  /** Capability backup 'filesystem': open the root tree (mounted if it was not) for reading. */
  openFsBackup?(spec: InstanceSpec, log: (line: string) => void): Promise<FsBackupSession>;
  /**
   * Capability backup 'filesystem': replace the stopped instance's root (a new instance's empty root volume too) with the tree
   * `fill` writes into an empty dir on the root volume, owners as host ids from idBase; a failed fill leaves the old root.
   */
  restoreFsRoot?(spec: InstanceSpec, fill: (dir: string, ids: { idBase: number; idCount: number }) => Promise<unknown>, log: (line: string) => void): Promise<void>;
  /** Optional: fields of the instance's API view that its driverConfig holds (qemu: its firmware). */
  describe?(ref: InstanceRef): { firmware?: { type: 'bios' | 'uefi'; secureBoot: boolean; tpm: boolean } };
  /** Optional: small state files beside the disks (a VM's UEFI vars, its TPM state) that copies, backups and restores carry. */
  exportState?(ref: InstanceRef): Promise<{ name: string; data: Buffer }[]>;
  importState?(ref: InstanceRef, files: { name: string; data: Buffer }[]): Promise<void>;
  /** The instance's console (capability console); Conflict when it is not running. */
  console(ref: InstanceRef): Promise<ConsoleHandle>;
  /**
   * Optional (VMs): a connection to the running instance's VNC server (RFB, no password: it listens only on a unix
   * socket in the daemon's runtime dir, reached by users only through the authenticated WebSocket); Conflict when it
   * is not running. Absent: the instance has no VGA console.
   */
  openVnc?(ref: InstanceRef): Promise<Duplex>;
  /** Optional (VMs with a CD-ROM drive): put the ISO file `path` in the running VM's drive, or empty it (null); live only. */
  changeMedia?(ref: InstanceRef, path: string | null): Promise<void>;
  /**
   * VMs: save the running VM as a template: pause it, write its device + RAM state to `out.stateFile` and a
   * standalone copy of its root disk (same instant) to `out.disk`, then resume it. Returns its hardware shape.
   */
  saveTemplate?(spec: InstanceSpec, out: { stateFile: string; disk: string }, progress: (pct: number, msg: string) => void): Promise<VmTemplateShape>;
  /** The last `bytes` of the console log (also after it stopped; '' when it has none). */
  consoleLog(ref: InstanceRef, bytes: number): string;
  /** A process inside the running instance (capability exec): pipes, or a pty with `tty`. */
  exec(ref: InstanceRef, args: string[], opts: { tty: boolean; rows?: number; cols?: number }): Promise<ChildProcess>;
  /** Map a runtime-specific exit of an exec'd process to the command's code (e.g. runc's own failures). */
  execExitCode(ref: InstanceRef, code: number, stderrTail: string): number;
  /** Optional (VMs): the running instance's guest agent (qemu-ga over virtio-serial), when the driver has one. */
  readonly guestAgent?: GuestAgentPort;
  /** Events that make the reconciler look at an instance; returns unsubscribe. */
  watch(cb: (ev: DriverEvent) => void): () => void;
  close(): void;
}
