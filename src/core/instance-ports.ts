// What the instance services need of each other, as interfaces, so that none of them imports another's
// class (no import cycle; each can be built with fakes in tests). daemon.ts wires the real ones.
import type { Nic } from '../shared/api-types.js';
import type { NicRequest } from '../shared/network-types.js';
import type { InstanceSnapshot } from '../shared/storage-types.js';
import type { InstanceRecord } from './instance-record.js';

/** NIC checks, limits, counters and the firewall policy, as launches and copies use them. */
export interface NicsPort {
  validateRequests(project: string, reqs: NicRequest[]): Promise<void>;
  limitsOf(req: NicRequest): Pick<Nic, 'ingressBps' | 'egressBps'>;
  applyFirewall(): Promise<void>;
}

/** What goes with an instance when it is deleted: forwards, volume claims, snapshot records. */
export interface InstanceLeftovers {
  dropForwards(project: string, instance: string): Promise<void>;
  releaseVolumes(rec: InstanceRecord): Promise<void>;
  forgetSnapshots(project: string, instance: string): Promise<void>;
}

/** Instance snapshots, as copies use them. */
export interface SnapshotsPort {
  get(project: string, instance: string, name: string): Promise<InstanceSnapshot>;
}
