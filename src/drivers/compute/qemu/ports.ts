// What the QEMU driver borrows from core: registry.ts's DriverPorts and DriverOptions, restated
// structurally, because the registry loads this folder (a type import back would close a cycle).
// registry.ts checks that createQemuInstanceDriver is a DriverFactory.
import type { HostExec } from '../../../host/exec.js';
import type { Logger } from '../../../lib/log.js';
import type { Nic } from '../../../shared/api-types.js';
import type { Accelerator } from '../types.js';
import type { GuestArch } from '../../../shared/arch-types.js';

/** Taps on networks' bridges (core's network service and NIC limits). */
export interface QemuNetworkPort {
  /** A tap on network `network`'s bridge, openable by `owner` (a uid) after QEMU dropped privileges. */
  createTap(tap: string, network: string, owner?: string): Promise<void>;
  deleteTap(tap: string): Promise<void>;
  tapExists(tap: string): Promise<boolean>;
  /** Bandwidth limits on the NIC's tap (removed when none). */
  applyLimits(nic: Nic): Promise<void>;
}

/** The ports the QEMU driver uses. */
export interface QemuPorts {
  exec: HostExec;
  log: Logger;
  network: QemuNetworkPort;
}

/** The daemon settings the QEMU driver uses. */
export interface QemuFactoryOptions {
  qemuUser: string;
  accelerator: Accelerator;
  /** Emulators per guest architecture instead of the default names (`nimbo daemon --qemu-binary ARCH=PATH`). */
  qemuBinaries?: Partial<Record<GuestArch, string>>;
}
