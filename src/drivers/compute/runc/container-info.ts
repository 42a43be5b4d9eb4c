// What a container is on this host: the container part of its record, its id range, and the
// names the runc driver derives for it (runtime id, cgroup). Plain types and pure functions only.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Container-only part of an instance record. */
export interface ContainerInfo {
  kind: 'system' | 'app';
  /** First host uid/gid of the container's 65536 ids (container root = this host id). */
  hostId: number;
  /** Named network namespace holding the container's NICs. */
  netns: string;
  /** Signal that asks init to power off (busybox init: SIGUSR2, systemd: SIGRTMIN+4). */
  stopSignal: string;
  pids: number;
  /** Relative CPU weight (1-10000, 100 = default) and swap on top of the memory limit, in bytes. */
  cpuWeight?: number;
  swapBytes?: number;
  /** Block I/O throttles on the disk under the root volume (bytes and operations per second). */
  disk?: { readBps?: number; writeBps?: number; readIops?: number; writeIops?: number };
  /** Processes the kernel killed for running out of the memory limit (as last seen). */
  oomKills?: number;
  /** Application containers: the process to run (resolved from the image config and overrides) and the restart policy. */
  app?: { args: string[]; env: string[]; cwd: string; uid: number; gid: number; restart: 'never' | 'on-failure' | 'always' };
  /** Application containers: how the process ended last time (128+N: killed by signal N). */
  exitCode?: number;
}

/** Host ids of container n: 65536 ids from 1,000,000 + n * 65536. */
export const ID_BASE = 1_000_000;
export const ID_SIZE = 65536;

/** Most bytes of a container's output log before the shim renames it to LOG.1 (so at most twice this on disk). */
export const CONTAINER_LOG_MAX = 1024 * 1024;

/** File in a run dir that marks the instance as a container (written at its first start). */
export const CONTAINER_MARKER = 'container.json';

/** What the marker records: enough to stop a container from its run dir alone. */
export interface ContainerMarker {
  id: string;
  stopSignal: string;
  netns: string;
  /** Where the exit shim writes how init ended (containers started by older versions: absent, and system ones have no file). */
  exitFile?: string;
}

/** File in a run dir where the exit shim keeps how init ended ({"exitCode": N}), unless the boot names another. */
export const EXIT_FILE = 'exit.json';

/** The marker of the container whose run dir this is (throws when there is none). */
export function readMarker(runDir: string): ContainerMarker {
  return JSON.parse(readFileSync(join(runDir, CONTAINER_MARKER), 'utf8')) as ContainerMarker;
}

/** runc's id of a container (per daemon prefix, so two daemons never clash). */
export const runtimeIdOf = (prefix: string, name: string) => `${prefix}-${name}`;

/** The cgroup holding every container of one daemon (relative to each hierarchy's root, no leading /). */
export const cgroupParentOf = (prefix: string) => `nimbo-${prefix}`;

/** A container's cgroupsPath in its OCI config. */
export const cgroupPathOf = (prefix: string, name: string) => `/${cgroupParentOf(prefix)}/${name}`;

