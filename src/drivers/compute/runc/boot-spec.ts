// The ContainerSpec (input of renderOciConfig) of an instance's container: system containers run
// /sbin/init with the seed and console FIFO mounted, application containers their image's process.
import { CONTAINER_CONSOLE, CONTAINER_SEED_DIR } from './rootfs/seed-dir.js';
import { ID_SIZE, type ContainerInfo } from './container-info.js';
import type { BindMount, ContainerSpec } from './oci-config.js';

/** Everything containerSpec needs, resolved by the caller. */
export interface ContainerSpecInput {
  runtimeId: string;
  /** The instance name (the container's hostname). */
  name: string;
  cpus: number;
  memoryBytes: number;
  /** Host cores it may run on (absent = all). */
  cpuset?: number[];
  container: ContainerInfo;
  cgroupsPath: string;
  /** The mounted root (ContainerRoot.rootfs). */
  rootfs: string;
  /** System containers: the seed dir and the console FIFO on the host. */
  seedDir: string;
  consoleFifo: string;
  /** Application containers: their /etc files (writeAppEtc). */
  appEtc: BindMount[];
  /** Attached filesystem volumes, in attach order. */
  volumeMounts: BindMount[];
  /** The whole disk under the root volume, when the container has disk limits. */
  rootDisk?: { major: number; minor: number };
}

/** What a system container's init may do in its own namespaces only: mount, set its hostname, configure its NICs, reboot. */
export const SYSTEM_CAPABILITIES = ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN', 'CAP_SYS_BOOT'];

/** The init of a system container. */
const SYSTEM_PROCESS = { args: ['/sbin/init'], env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'container=nimbo', 'TERM=xterm'], cwd: '/', uid: 0, gid: 0 };

/** The container's OCI spec. Pure. */
export function containerSpec(i: ContainerSpecInput): ContainerSpec {
  const ct = i.container;
  const app = ct.app;
  return {
    id: i.runtimeId,
    kind: app ? 'app' : 'system',
    hostname: i.name,
    rootfs: i.rootfs,
    process: app ? { args: app.args, env: app.env, cwd: app.cwd, uid: app.uid, gid: app.gid } : SYSTEM_PROCESS,
    idmap: { hostId: ct.hostId, size: ID_SIZE },
    limits: {
      cpus: i.cpus,
      memoryBytes: i.memoryBytes,
      ...(i.cpuset?.length ? { cpuset: i.cpuset } : {}),
      pids: ct.pids,
      ...(ct.cpuWeight !== undefined ? { cpuWeight: ct.cpuWeight } : {}),
      ...(ct.swapBytes !== undefined ? { swapBytes: ct.swapBytes } : {}),
      ...(ct.disk && Object.keys(ct.disk).length && i.rootDisk ? { blkioThrottle: [{ ...i.rootDisk, ...ct.disk }] } : {}),
    },
    cgroupsPath: i.cgroupsPath,
    mounts: app
      ? [...i.appEtc, ...i.volumeMounts]
      : [
          { source: i.seedDir, destination: CONTAINER_SEED_DIR, readonly: true },
          // systemd points its own stdio at /dev/null: its services reach the console log here.
          { source: i.consoleFifo, destination: CONTAINER_CONSOLE, readonly: false },
          ...i.volumeMounts,
        ],
    extraCapabilities: app ? [] : [...SYSTEM_CAPABILITIES],
  };
}

/** Whether the container has block I/O limits (its root disk must then be found). */
export const hasDiskLimits = (ct: ContainerInfo) => !!ct.disk && Object.keys(ct.disk).length > 0;
