// What the container code borrows from others, as small interfaces (core implements them
// structurally; unit tests pass fakes): the runtime CLI and the network plumbing.
import type { Nic } from '../../../shared/api-types.js';
import type { NetnsSetup } from '../../network/types.js';
import type { RuncDriver } from './runc-driver.js';

/** The runtime calls the container code makes (RuncDriver; a fake in unit tests). */
export type RuncRuntime = Pick<RuncDriver, 'state' | 'create' | 'start' | 'delete' | 'stop' | 'pause' | 'resume' | 'stats' | 'execSpawn'> & Partial<Pick<RuncDriver, 'updateCpuset'>>;

/** A container NIC as the network plumbing needs it (the instance record's NIC). */
export type ContainerNic = Nic;

/** Network plumbing for container NICs (core's network service and NIC limits). */
export interface NetnsPort {
  /** One veth per NIC into named namespace `netns` (host end on the NIC's bridge), and `setup` inside it. */
  plugNetns(netns: string, nics: ContainerNic[], setup?: NetnsSetup): Promise<void>;
  /** Put the NIC's bandwidth limits on its host end (removes them when none). */
  applyLimits(nic: ContainerNic): Promise<void>;
  /** Delete a NIC's host end (idempotent). */
  deleteTap(tap: string): Promise<void>;
}
