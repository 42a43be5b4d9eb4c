// Host identifiers of instances. New instances take every host name from their UUID, so two instances
// with one name (in two projects) never collide and a rename touches no host object. Records from before
// (record version 1) keep the name-derived ids they were made with: the migration pins them in the record.
import type { HostIds } from '../drivers/compute/instance-driver.js';
import { cgroupPathOf, runtimeIdOf } from '../drivers/compute/runc/container-info.js';
import type { StatePaths } from './config.js';

/** Host ids of a new instance: all from its UUID. */
export function newHostIds(paths: Pick<StatePaths, 'run' | 'instance'>, prefix: string, uuid: string): HostIds {
  return { runDir: paths.run(uuid), instanceDir: paths.instance(uuid), runtimeId: runtimeIdOf(prefix, uuid), cgroup: cgroupPathOf(prefix, uuid) };
}

/** Host ids a version-1 record was made with (from its name); pinned into the record by the migration. */
export function legacyHostIds(paths: Pick<StatePaths, 'run' | 'instance'>, prefix: string, name: string): HostIds {
  return { runDir: paths.run(name), instanceDir: paths.instance(name), runtimeId: runtimeIdOf(prefix, name), cgroup: cgroupPathOf(prefix, name) };
}

/** The root volume of a new instance (a DNS label, 41 characters). */
export const rootVolumeOf = (uuid: string): string => `root-${uuid}`;
