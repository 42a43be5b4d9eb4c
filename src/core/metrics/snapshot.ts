// The latest sample of the host and of every instance: what the sampler writes every 10 s and what
// GET /metrics renders (no I/O while scraping).
import type { CpuMode } from '../../host/proc-host.js';
import type { DiskCounters } from '../../drivers/compute/instance-driver.js';

/** One NIC's counters FROM THE GUEST'S POINT OF VIEW: receive = what the instance received (the host end's tx). */
export interface NicSample {
  nic: string;
  receiveBytes: number;
  transmitBytes: number;
  receivePackets: number;
  transmitPackets: number;
}

/** One instance at one sample. Counters are absent when the instance is not running or did not answer in time. */
export interface InstanceSample {
  uuid: string;
  project: string;
  name: string;
  type: string;
  /** The state the API shows (the record's; 'rescue' for a rescue boot). */
  state: string;
  cpuSeconds?: number;
  memoryBytes?: number;
  /** VMs: memory as the guest sees it (balloon statistics): used (total - available) and total. */
  guestMemoryUsedBytes?: number;
  guestMemoryTotalBytes?: number;
  disk?: DiskCounters;
  nics: NicSample[];
}

/** A storage pool's space. */
export interface PoolSample {
  name: string;
  capacityBytes: number;
  usedBytes: number;
}

/** The host at one sample. */
export interface HostSample {
  cpuSeconds: Record<CpuMode, number>;
  cores: number;
  memoryTotalBytes: number;
  memoryAvailableBytes: number;
  load1: number;
  load5: number;
  load15: number;
  pools: PoolSample[];
}

/** One complete sample. */
export interface MetricsSnapshot {
  /** When it was taken (unix ms); 0 before the first sample. */
  at: number;
  /** How long sampling everything took, seconds. */
  durationSeconds: number;
  host?: HostSample;
  instances: InstanceSample[];
  /** Instances that did not answer within the per-instance timeout at this sample. */
  timeouts: number;
}
