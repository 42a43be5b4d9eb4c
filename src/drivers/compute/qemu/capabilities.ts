import type { DriverCapabilities } from '../instance-driver.js';

/** What VMs can do (see DriverCapabilities). */
export const QEMU_CAPABILITIES: DriverCapabilities = {
  kind: 'vm',
  root: 'image-clone',
  rootQuota: false,
  accelerator: true,
  processLimits: false,
  app: false,
  volumeKind: 'block',
  volumeMountPath: false,
  liveDiskResize: true,
  unplugBootNics: false,
  snapshots: 'disk-images',
  statefulSnapshots: true,
  backup: 'block',
  console: 'serial',
  exec: false,
  firmware: true,
  execHint: 'use ssh or the console',
  liveResize: true,
};
