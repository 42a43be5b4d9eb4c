// What the instance service and its NIC, volume and snapshot services need of each other, as interfaces,
// so that none of them imports another's class (no import cycle; each can be built with fakes in tests).
import type { Instance, Nic } from '../shared/api-types.js';
import type { NicRequest } from '../shared/network-types.js';
import type { InstanceSnapshot } from '../shared/storage-types.js';
import type { ComputeDriver, VmDisk } from '../drivers/compute/types.js';
import type { QemuInstanceOps, QemuRef } from '../drivers/compute/qemu/instance-ops.js';
import type { AccelChoice, BaseDeps } from './deps.js';
import type { ConsoleManager } from './consoles.js';
import type { ContainerService } from './container-service.js';
import type { ForwardService } from './forward-service.js';
import type { ImageService } from './image-service.js';
import type { InstanceRecord } from './instance-record.js';
import type { NetworkService } from './network-service.js';

/** Everything the instance service is built from. */
export interface InstanceDeps extends BaseDeps {
  compute: ComputeDriver;
  /** The QEMU operations VMs need beyond start/stop (hot-plug, snapshots, seed, pid). */
  vms: QemuInstanceOps;
  network: NetworkService;
  images: ImageService;
  consoles: ConsoleManager;
  accel: AccelChoice;
}

/** The instance service as the NIC, volume and snapshot services use it. */
export interface InstanceHost {
  readonly d: InstanceDeps;
  containers?: ContainerService;
  record(name: string): Promise<InstanceRecord>;
  patch(name: string, change: Partial<InstanceRecord> | ((cur: InstanceRecord) => Partial<InstanceRecord>)): Promise<InstanceRecord>;
  view(rec: InstanceRecord): Promise<Instance>;
  rootDisk(rec: InstanceRecord): Promise<VmDisk>;
  vmRef(rec: { name: string; qemuId?: number }): QemuRef;
  tapOwner(rec: InstanceRecord): string | undefined;
  boot(rec: InstanceRecord): Promise<void>;
}

/** NIC hot-plug, limits, counters and the firewall policy, as the instance service uses them. */
export interface NicsPort {
  /** The network's port forwards (an instance's go when it is deleted). */
  readonly forwards: Pick<ForwardService, 'dropNic'>;
  validateRequests(reqs: NicRequest[]): Promise<void>;
  limitsOf(req: NicRequest): Pick<Nic, 'ingressBps' | 'egressBps'>;
  applyFirewall(): Promise<void>;
  applyLimits(nic: Nic): Promise<void>;
  plugAll(rec: { name: string; qemuId?: number; nics: Nic[] }): Promise<void>;
  withCounters(view: Instance): Promise<Instance>;
}

/** Attached pool volumes, as the instance lifecycle uses them. */
export interface VolumesPort {
  plugAll(rec: InstanceRecord): Promise<void>;
  releaseAll(rec: InstanceRecord): Promise<void>;
}

/** Instance snapshots, as the instance lifecycle and copies use them. */
export interface SnapshotsPort {
  get(instance: string, name: string): Promise<InstanceSnapshot>;
  forget(instance: string): Promise<void>;
}
