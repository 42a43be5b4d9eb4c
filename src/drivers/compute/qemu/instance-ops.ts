import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostExec } from '../../../host/exec.js';
import type { IoLimits } from '../../../shared/storage-types.js';
import type { Accelerator, RuntimeState, VmBoot, VmSpec } from '../types.js';
import type { ThrottleLimits } from './block-args.js';
import { attachDisk, detachDisk, resizeDisk, setThrottle } from './block-ops.js';
import type { QemuDriver } from './driver.js';
import { attachNic, detachNic } from './nic-ops.js';
import { runPaths } from './run-paths.js';
import { buildSeedIso } from './seed-iso.js';
import { deleteVmState, loadVmState, saveVmState } from './vm-state.js';

// Everything core needs of QEMU beyond start/stop, as methods shaped like the planned InstanceDriver
// (issue 10, plan 2.1): each takes the instance (a subset of the planned InstanceSpec) first, so core
// never touches QMP, qemu-img, disk ownership or QEMU's file names itself.

/** The part of an instance every QEMU operation needs (a subset of the planned InstanceSpec). */
export interface QemuRef {
  name: string;
  hostIds: { runDir: string; instanceDir: string };
  /** qemuId: the VM's own uid/gid (core/vm-ids.ts); absent on records from before per-VM ids (the shared QEMU user). */
  driverConfig: { qemuId?: number };
}

/** A NIC of a VM (tap made beforehand by the network service). */
export interface QemuNic {
  name: string;
  tap: string;
  mac: string;
  /** Plugged after start on a hot-plug port (detachable live), instead of given at boot. */
  hotplug?: boolean;
}

/** A pool volume given to a VM as an extra disk. */
export interface QemuVolume {
  pool: string;
  volume: string;
  path: string;
  format?: 'qcow2' | 'raw';
  limits: IoLimits;
}

/** Everything start() needs about one VM. */
export interface QemuInstanceSpec extends QemuRef {
  uuid: string;
  cpus: number;
  memoryBytes: number;
  accelerator: Accelerator;
  image: { boot: VmBoot };
  root: { path: string; format: 'qcow2' | 'raw' };
  nics: QemuNic[];
}

/** The driver-owned part of an instance snapshot: the qcow2 images it covers, and the nodes QEMU saved live. */
export interface QemuSnapshotData {
  name: string;
  stateful: boolean;
  disks: { id: string; path: string }[];
  vmDisks?: string[];
}

/** What the host says about a VM: its state and, unless stopped, the pid QEMU wrote. */
export interface QemuStatus {
  state: RuntimeState;
  pid: number | null;
}

/** The QEMU disk id of a pool volume attached to a VM (short and stable: node names are limited to 31 chars). */
export function volumeDiskId(pool: string, volume: string): string {
  return `v${createHash('sha1').update(`${pool}/${volume}`).digest('hex').slice(0, 12)}`;
}

/** nimbo's limits in QEMU's throttle names. */
export function toThrottle(l: IoLimits): ThrottleLimits {
  return { iops_rd: l.iopsRead, iops_wr: l.iopsWrite, bps_rd: l.bytesRead, bps_wr: l.bytesWrite };
}

/** The seed ISO of a VM (cloud-init NoCloud), in its instance dir. */
export const seedIsoPath = (ref: QemuRef): string => join(ref.hostIds.instanceDir, 'seed.iso');

/** Read a VM's pid from its run dir (the pidfile QEMU wrote), or null. No /proc check. */
export function readPid(runDir: string): number | null {
  try {
    const pid = Number(readFileSync(runPaths(runDir).pid, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Options of QemuInstanceOps. */
export interface QemuInstanceOpsOptions {
  exec: HostExec;
  /** QEMU's shared user, for VMs from before per-VM ids. */
  qemuUser: string;
}

/** The QEMU operations core needs on one instance, over a QemuDriver (which keeps the QMP connections). */
export class QemuInstanceOps {
  private readonly exec: HostExec;

  constructor(readonly driver: QemuDriver, private readonly opts: QemuInstanceOpsOptions) {
    this.exec = opts.exec;
  }

  /** QEMU's -runas for the VM: its own uid/gid, else the shared QEMU user. */
  runAs(ref: QemuRef): string {
    const id = ref.driverConfig.qemuId;
    return id !== undefined ? `${id}:${id}` : this.opts.qemuUser;
  }

  /** Who may open the VM's taps after QEMU dropped privileges (hot-plug): its own uid (undefined: the default owner). */
  tapOwner(ref: QemuRef): string | undefined {
    return ref.driverConfig.qemuId !== undefined ? String(ref.driverConfig.qemuId) : undefined;
  }

  /** The VM spec the QEMU driver starts: root disk, then the seed ISO; NICs given at boot (hot-plugged ones come after start). */
  vmSpec(spec: QemuInstanceSpec): VmSpec {
    return {
      name: spec.name,
      uuid: spec.uuid,
      cpus: spec.cpus,
      memoryMiB: Math.floor(spec.memoryBytes / 1024 ** 2),
      accelerator: spec.accelerator,
      boot: spec.image.boot,
      disks: [
        { id: 'root', path: spec.root.path, format: spec.root.format },
        { id: 'seed', path: seedIsoPath(spec), format: 'raw', readOnly: true },
      ],
      // Hot-plugged NICs are plugged again after every start (plugNic), so they stay detachable.
      nics: spec.nics.filter((n) => !n.hotplug).map((n) => ({ id: n.name, tap: n.tap, mac: n.mac })),
      runDir: spec.hostIds.runDir,
      // Its own uid/gid: one escaped QEMU cannot open another VM's disks, taps or sockets.
      runAs: this.runAs(spec),
    };
  }

  /** Start the VM's QEMU (see QemuDriver.start). */
  start(spec: QemuInstanceSpec): Promise<void> {
    return this.driver.start(this.vmSpec(spec));
  }

  /** Write the VM's seed ISO from rendered seed files. */
  writeSeed(ref: QemuRef, files: Record<string, string>): Promise<void> {
    return buildSeedIso(this.exec, files, seedIsoPath(ref));
  }

  /** State and pid (from the pidfile) of the VM. */
  async status(ref: QemuRef): Promise<QemuStatus> {
    const state = await this.driver.state(ref.hostIds.runDir);
    return { state, pid: state === 'stopped' ? null : readPid(ref.hostIds.runDir) };
  }

  /** The pid in the VM's pidfile, or null: cheap (no QMP, no /proc), for views of a VM its record says runs. */
  pidOf(ref: QemuRef): number | null {
    return readPid(ref.hostIds.runDir);
  }

  /** Hot-plug a NIC into the running VM (its tap must exist); nothing to do when it is stopped (boot gives it). */
  async plugNic(ref: QemuRef, nic: QemuNic, live: boolean): Promise<void> {
    if (!live) return;
    await attachNic(await this.driver.qmp(ref.hostIds.runDir), { id: nic.name, tap: nic.tap, mac: nic.mac });
  }

  /** Hot-unplug a NIC from the running VM (the guest releases it); nothing to do when it is stopped. */
  async unplugNic(ref: QemuRef, nic: Pick<QemuNic, 'name'>, live: boolean): Promise<void> {
    if (!live) return;
    await detachNic(await this.driver.qmp(ref.hostIds.runDir), nic.name);
  }

  /** Hot-plug a volume into the running VM with its I/O limits; the file is handed to that VM's QEMU uid only. */
  async plugVolume(ref: QemuRef, vol: QemuVolume, live: boolean): Promise<void> {
    if (!live) return; // plugged at the next start
    const id = ref.driverConfig.qemuId;
    await this.exec.run(['chown', id !== undefined ? `${id}:${id}` : `${this.opts.qemuUser}:`, vol.path]);
    await this.exec.run(['chmod', '0600', vol.path]);
    await attachDisk(await this.driver.qmp(ref.hostIds.runDir), {
      id: volumeDiskId(vol.pool, vol.volume),
      path: vol.path,
      format: vol.format ?? 'raw',
      throttle: toThrottle(vol.limits),
    });
  }

  /** Take a volume away from the VM: hot-unplugged when it runs, then owned by root again (no QEMU can open it). */
  async unplugVolume(ref: QemuRef, vol: Pick<QemuVolume, 'pool' | 'volume' | 'path'>, live: boolean): Promise<void> {
    if (live) await detachDisk(await this.driver.qmp(ref.hostIds.runDir), volumeDiskId(vol.pool, vol.volume));
    await this.exec.run(['chown', '0:0', vol.path]);
  }

  /** Grow a disk of the running VM (block_resize). */
  async resizeVolume(ref: QemuRef, vol: Pick<QemuVolume, 'pool' | 'volume'> | 'root', bytes: number): Promise<void> {
    await resizeDisk(await this.driver.qmp(ref.hostIds.runDir), diskId(vol), bytes);
  }

  /** Set the I/O limits of a disk of the running VM. */
  async setVolumeLimits(ref: QemuRef, vol: Pick<QemuVolume, 'pool' | 'volume'> | 'root', limits: IoLimits): Promise<void> {
    await setThrottle(await this.driver.qmp(ref.hostIds.runDir), diskId(vol), toThrottle(limits));
  }

  /**
   * Snapshot every disk under `name`: a running VM through QEMU (snapshot-save: RAM too; the VM
   * pauses meanwhile), a stopped one with `qemu-img snapshot -c` on each image.
   */
  async snapshot(ref: QemuRef, req: { name: string; stateful: boolean; disks: { id: string; path: string }[] }, progress?: (pct: number, msg: string) => void): Promise<QemuSnapshotData> {
    const snap: QemuSnapshotData = { name: req.name, stateful: req.stateful, disks: req.disks };
    if (await this.live(ref)) {
      progress?.(10, 'saving with QEMU (the VM pauses meanwhile)');
      snap.vmDisks = (await saveVmState(await this.driver.qmp(ref.hostIds.runDir), req.name)).disks;
    } else {
      for (const disk of req.disks) await this.exec.run(['qemu-img', 'snapshot', '-c', req.name, disk.path]);
    }
    return snap;
  }

  /** Restore: a stateful snapshot is loaded into the running VM (snapshot-load); a disk-only one rolls back each image of the stopped VM. */
  async restoreSnapshot(ref: QemuRef, snap: QemuSnapshotData): Promise<void> {
    if (snap.stateful) await loadVmState(await this.driver.qmp(ref.hostIds.runDir), snap.name, { disks: snap.vmDisks });
    else for (const disk of snap.disks) await this.exec.run(['qemu-img', 'snapshot', '-a', snap.name, disk.path]);
  }

  /** Delete a snapshot from every disk: through QEMU when the VM runs, else `qemu-img snapshot -d` (missing ones ignored). */
  async deleteSnapshot(ref: QemuRef, snap: Pick<QemuSnapshotData, 'name' | 'disks'>): Promise<void> {
    if (await this.live(ref)) await deleteVmState(await this.driver.qmp(ref.hostIds.runDir), snap.name);
    else for (const disk of snap.disks) await this.exec.run(['qemu-img', 'snapshot', '-d', snap.name, disk.path], { allowFailure: true });
  }

  private async live(ref: QemuRef): Promise<boolean> {
    const st = await this.driver.state(ref.hostIds.runDir);
    return st === 'running' || st === 'paused';
  }
}

const diskId = (vol: Pick<QemuVolume, 'pool' | 'volume'> | 'root'): string => (vol === 'root' ? 'root' : volumeDiskId(vol.pool, vol.volume));
