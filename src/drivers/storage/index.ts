// The storage driver registry: a pool's driver is chosen by name. Planned: "lvm-thin" and "rbd"
// (see types.ts for how they fit StorageDriver); the build hosts have no device-mapper or RBD.
import { invalid } from '../../lib/errors.js';
import { BtrfsStorageDriver } from './btrfs/btrfs-driver.js';
import { DirStorageDriver } from './dir/dir-driver.js';
import type { PoolOptions, PoolSpec, StorageDeps, StorageDriver, StorageDriverFactory, StorageDriverName } from './types.js';
import { volumeFormat } from './validate.js';

/** Factories of the storage drivers, by name. */
export const storageDrivers: Record<StorageDriverName, StorageDriverFactory> = {
  dir: (spec, deps) => new DirStorageDriver(spec, deps),
  btrfs: (spec, deps) => new BtrfsStorageDriver(spec, deps),
};

/** Names of the registered drivers. */
export const STORAGE_DRIVER_NAMES = Object.keys(storageDrivers) as StorageDriverName[];

/** Whether name is a registered storage driver. */
export function isStorageDriverName(name: string): name is StorageDriverName {
  return Object.hasOwn(storageDrivers, name);
}

/** A driver handle for a pool (call initPool once to create or adopt it). Keep one handle per pool. */
export function createStorageDriver(spec: PoolSpec, deps: StorageDeps): StorageDriver {
  if (!isStorageDriverName(spec.driver)) {
    throw invalid(`storage driver ${JSON.stringify(spec.driver)} is not known: use one of ${STORAGE_DRIVER_NAMES.join(', ')}`);
  }
  return storageDrivers[spec.driver](spec, deps);
}

/** Options each driver accepts (key=value on the CLI). */
const OPTION_KEYS: Record<StorageDriverName, (keyof PoolOptions)[]> = { dir: ['format'], btrfs: [] };

/** Parse `key=value` pool options for a driver into PoolOptions (pure). */
export function parsePoolOptions(driver: StorageDriverName, raw: Record<string, string>): PoolOptions {
  const out: PoolOptions = {};
  for (const [k, v] of Object.entries(raw)) {
    if (!(OPTION_KEYS[driver] as string[]).includes(k)) {
      throw invalid(`option ${JSON.stringify(k)} is not known to the ${driver} driver${OPTION_KEYS[driver].length ? ` (known: ${OPTION_KEYS[driver].join(', ')})` : ''}`);
    }
    if (k === 'format') out.format = volumeFormat(v, 'format option');
  }
  return out;
}

export type * from './types.js';
