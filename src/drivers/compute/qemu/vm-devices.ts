// A VM's host-side devices: its taps (through core's network port), the pool volumes handed to its
// QEMU uid, and the hot-plugs over QMP. Hot-plugged NICs and volumes sit on hot-plug ports so they
// can be removed again while the VM runs; they are plugged again after every start.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostExec } from '../../../host/exec.js';
import { conflict } from '../../../lib/errors.js';
import type { Nic } from '../../../shared/api-types.js';
import type { IoLimits } from '../../../shared/storage-types.js';
import type { InstanceRef, VolumeSpec } from '../instance-driver.js';
import { attachDisk, detachDisk, resizeDisk, setThrottle } from './block-ops.js';
import type { QemuDriver } from './driver.js';
import { toThrottle, volumeDiskId } from './instance-ops.js';
import { attachNic, detachNic } from './nic-ops.js';
import { ifbNameFor } from '../../network/qos/tc-render.js';
import type { QemuNetworkPort } from './ports.js';

/** The VM's own uid/gid from its driverConfig (records from before per-VM ids have none). */
export function qemuIdOf(ref: Pick<InstanceRef, 'driverConfig'>): number | undefined {
  const id = (ref.driverConfig as { qemuId?: unknown } | undefined)?.qemuId;
  return typeof id === 'number' && Number.isInteger(id) ? id : undefined;
}

/** What VmDevices needs. */
export interface VmDevicesOptions {
  qemu: QemuDriver;
  exec: HostExec;
  network: QemuNetworkPort;
  /** QEMU's shared user, for VMs from before per-VM ids. */
  qemuUser: string;
  /** Where sysfs lives (tests). */
  sysRoot?: string;
}

type DiskRef = { pool: string; volume: string } | 'root';
const diskId = (vol: DiskRef): string => (vol === 'root' ? 'root' : volumeDiskId(vol.pool, vol.volume));
const limitsKey = (nic: Nic): string => `${nic.ingressBps ?? 0}/${nic.egressBps ?? 0}`;

/** Taps, volumes and hot-plugs of VMs. */
export class VmDevices {
  /** Taps plugNic just made for a stopped VM, with the limits they got: the start that follows needs no second look. */
  private readonly fresh = new Map<string, string>();

  constructor(private readonly o: VmDevicesOptions) {}

  private sysNet(dev: string): string {
    return join(this.o.sysRoot ?? '/sys', 'class', 'net', dev);
  }

  /** A tap made this moment has no qdiscs: only limits to set, or an egress shaper left from an earlier tap, need tc. */
  private needsTc(nic: Nic, made: boolean): boolean {
    return !made || !!nic.ingressBps || !!nic.egressBps || existsSync(this.sysNet(ifbNameFor(nic.tap)));
  }

  /** QEMU's -runas for the VM: its own uid/gid, else the shared QEMU user. */
  runAs(ref: InstanceRef): string {
    const id = qemuIdOf(ref);
    return id !== undefined ? `${id}:${id}` : this.o.qemuUser;
  }

  /** Who may open the VM's taps after QEMU dropped privileges (hot-plug): its own uid (undefined: the network's default, the shared user). */
  tapOwner(ref: InstanceRef): string | undefined {
    const id = qemuIdOf(ref);
    return id !== undefined ? String(id) : undefined;
  }

  /** Before a start: every tap there (made when missing) with its bandwidth limits. */
  async ensureTaps(ref: InstanceRef, nics: Nic[]): Promise<void> {
    const owner = this.tapOwner(ref);
    for (const nic of nics) {
      const fresh = this.fresh.get(nic.tap);
      this.fresh.delete(nic.tap);
      if (fresh === limitsKey(nic) && existsSync(this.sysNet(nic.tap))) continue;
      let exists = await this.o.network.tapExists(nic.tap);
      // QEMU opens a hot-plugged tap after dropping to the VM's uid: one made for another owner (the shared
      // user of an older nimbo) cannot be opened, so it is made again. Boot taps are opened before the drop.
      const onHost = exists && nic.hotplug && owner !== undefined ? await this.tapOwnerOnHost(nic.tap) : undefined;
      if (onHost !== undefined && onHost !== owner) {
        await this.o.network.deleteTap(nic.tap);
        exists = false;
      }
      if (!exists) await this.o.network.createTap(nic.tap, nic.network, owner);
      if (this.needsTc(nic, !exists)) await this.o.network.applyLimits(nic);
    }
  }

  /** A NIC's tap (made when missing, with its limits) and, when live, the NIC hot-plugged; the tap goes again on failure. */
  async plugNic(ref: InstanceRef, nic: Nic, live: boolean): Promise<void> {
    const made = !(await this.o.network.tapExists(nic.tap));
    if (made) await this.o.network.createTap(nic.tap, nic.network, this.tapOwner(ref));
    try {
      if (this.needsTc(nic, made)) await this.o.network.applyLimits(nic);
      if (live) await this.hotplugNic(ref, nic);
      else if (made) this.fresh.set(nic.tap, limitsKey(nic));
    } catch (e) {
      if (made) await this.o.network.deleteTap(nic.tap).catch(() => undefined);
      throw e;
    }
  }

  /** Hot-plug a NIC whose tap exists into the running VM. */
  async hotplugNic(ref: InstanceRef, nic: Nic): Promise<void> {
    await attachNic(await this.o.qemu.qmp(ref.hostIds.runDir), { id: nic.name, tap: nic.tap, mac: nic.mac });
  }

  /** Hot-unplug the NIC when live (only hot-plugged ones can go), then delete its tap. */
  async unplugNic(ref: InstanceRef, nic: Nic, live: boolean): Promise<void> {
    if (live) {
      if (!nic.hotplug) throw conflict(`NIC ${nic.name} of ${ref.name} was there at boot and cannot be unplugged live: stop the instance first`);
      await detachNic(await this.o.qemu.qmp(ref.hostIds.runDir), nic.name);
    }
    this.fresh.delete(nic.tap);
    await this.o.network.deleteTap(nic.tap);
  }

  /** Hand the volume to this VM's QEMU uid only (mode 0600), and hot-plug it with its limits when live. */
  async plugVolume(ref: InstanceRef, vol: VolumeSpec, live: boolean): Promise<void> {
    const id = qemuIdOf(ref);
    await this.o.exec.run(['chown', id !== undefined ? `${id}:${id}` : `${this.o.qemuUser}:`, vol.path]);
    await this.o.exec.run(['chmod', '0600', vol.path]);
    if (!live) return; // plugged at the next start
    await attachDisk(await this.o.qemu.qmp(ref.hostIds.runDir), {
      id: volumeDiskId(vol.pool, vol.volume),
      path: vol.path,
      format: vol.format ?? 'raw',
      throttle: toThrottle(vol.limits),
    });
  }

  /** Hot-unplug when live (the guest releases it), then root's again: no QEMU can open it. */
  async unplugVolume(ref: InstanceRef, vol: VolumeSpec, live: boolean): Promise<void> {
    if (live) await detachDisk(await this.o.qemu.qmp(ref.hostIds.runDir), volumeDiskId(vol.pool, vol.volume));
    await this.o.exec.run(['chown', '0:0', vol.path]);
  }

  /** Grow a disk of the running VM (block_resize). */
  async resizeVolume(ref: InstanceRef, vol: DiskRef, bytes: number): Promise<void> {
    await resizeDisk(await this.o.qemu.qmp(ref.hostIds.runDir), diskId(vol), bytes);
  }

  /** Set the I/O limits of a disk of the running VM. */
  async setVolumeLimits(ref: InstanceRef, vol: DiskRef, limits: IoLimits): Promise<void> {
    await setThrottle(await this.o.qemu.qmp(ref.hostIds.runDir), diskId(vol), toThrottle(limits));
  }

  /** The uid that owns a tap (sysfs `owner`; "-1" when none), or undefined when unreadable. */
  private async tapOwnerOnHost(tap: string): Promise<string | undefined> {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(tap)) return undefined;
    try {
      return (await readFile(join(this.o.sysRoot ?? '/sys', 'class', 'net', tap, 'owner'), 'utf8')).trim();
    } catch {
      return undefined;
    }
  }
}
