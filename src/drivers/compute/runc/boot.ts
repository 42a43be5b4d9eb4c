// Starting a container (also re-creating it after a host reboot): root up, bundle with config.json,
// marker in the run dir, `runc create` under the exit shim, cgroup delegation, netns plumbing,
// `runc start`. The created → plumb → start order lets the veths exist before init runs.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostExec } from '../../../host/exec.js';
import type { Logger } from '../../../lib/log.js';
import type { NetnsSetup } from '../../network/types.js';
import { appNetnsSetup, writeAppEtc, type AppNetwork } from './app-files.js';
import { containerSpec, hasDiskLimits } from './boot-spec.js';
import { CONTAINER_LOG_MAX, CONTAINER_MARKER, EXIT_FILE, type ContainerInfo, type ContainerMarker } from './container-info.js';
import { dropNetns, HOST_NETNS_PATHS, plumbNetns, type NetnsHostPaths } from './netns.js';
import { renderOciConfigJson, type BindMount, type ContainerSpec, type RenderOptions } from './oci-config.js';
import type { ContainerNic, NetnsPort, RuncRuntime } from './ports.js';
import { consoleFifo, readyRoot, rootDisk, seedDirOf } from './root.js';
import { CGROUP_ROOT } from './cgroups.js';
import { delegateCgroup, hostRenderOptions } from './runc-support.js';

/** What booting borrows: host commands, the runtime, network plumbing, a logger; host paths for tests. */
export interface BootDeps {
  exec: HostExec;
  runtime: RuncRuntime;
  net: NetnsPort;
  log: Logger;
  renderOptions?: () => Promise<RenderOptions>;
  netnsPaths?: NetnsHostPaths;
  cgroupRoot?: string;
}

/** One container to boot, every host path and name already resolved by the caller. */
export interface BootRequest {
  name: string;
  runtimeId: string;
  cgroupsPath: string;
  /** STATE/run/<instance>: marker, serial log, console FIFO, exit file. */
  runDir: string;
  /** STATE/instances/<instance>: bundle, seed, app /etc files. */
  instanceDir: string;
  /** The root volume's directory, and its pool (named in errors). */
  rootDir: string;
  rootPool: string;
  cpus: number;
  memoryBytes: number;
  /** Host cores the container may run on (a dedicated slice, or the shared cores); absent = all. */
  cpuset?: number[];
  container: ContainerInfo;
  nics: ContainerNic[];
  volumeMounts: BindMount[];
  /** The networks of its NICs by name (application containers: /etc files, addresses, route). */
  networks: Map<string, AppNetwork>;
  /** Where the exit shim writes how init ended (default: EXIT_FILE in the run dir). */
  exitFile?: string;
}

/** Start (or re-create after a host reboot) the container. */
export async function bootContainer(deps: BootDeps, req: BootRequest): Promise<void> {
  const { exec } = deps;
  const ct = req.container;
  const app = ct.app;
  mkdirSync(req.runDir, { recursive: true, mode: 0o711 });
  await dropNetns(exec, ct.netns, deps.netnsPaths);
  const root = await readyRoot(exec, req.rootDir, ct.hostId);
  const bundle = join(req.instanceDir, 'bundle');
  // config.json (env, maybe secrets) is read by runc as root only.
  mkdirSync(bundle, { recursive: true, mode: 0o700 });
  chmodSync(bundle, 0o700);
  // Init's output reaches serial.log through the shim, bounded; a system container's console lines through this FIFO.
  const fifo = join(req.runDir, 'console.fifo');
  if (!app) await consoleFifo(exec, fifo, ct.hostId);
  const spec = containerSpec({
    runtimeId: req.runtimeId,
    name: req.name,
    cpus: req.cpus,
    memoryBytes: req.memoryBytes,
    ...(req.cpuset?.length ? { cpuset: req.cpuset } : {}),
    container: ct,
    cgroupsPath: req.cgroupsPath,
    rootfs: root.rootfs,
    seedDir: seedDirOf(req.instanceDir),
    consoleFifo: fifo,
    ...(hasDiskLimits(ct) ? { rootDisk: await rootDisk(exec, req.rootDir, req.name, req.rootPool) } : {}),
    appEtc: app ? writeAppEtc(req.instanceDir, req.name, req.nics, req.networks) : [],
    volumeMounts: req.volumeMounts,
  });
  writeFileSync(join(bundle, 'config.json'), renderOciConfigJson(spec, await (deps.renderOptions ?? hostRenderOptions)()));
  const exitFile = req.exitFile ?? join(req.runDir, EXIT_FILE);
  const marker: ContainerMarker = { id: spec.id, stopSignal: ct.stopSignal, netns: ct.netns, exitFile };
  writeFileSync(join(req.runDir, CONTAINER_MARKER), JSON.stringify(marker) + '\n', { mode: 0o600 });
  await createAndStart(deps, { spec, bundle, runDir: req.runDir, container: ct, nics: req.nics, setup: app ? appNetnsSetup(req.nics, req.networks) : {}, exitFile });
}

/** The runtime half of a boot: (re-)create the container, delegate its cgroup, plumb its netns, start it; undone on failure. */
export async function createAndStart(
  deps: BootDeps, b: { spec: ContainerSpec; bundle: string; runDir: string; container: ContainerInfo; nics: ContainerNic[]; setup: NetnsSetup; exitFile?: string },
): Promise<void> {
  const { runtime } = deps;
  const { spec, container: ct } = b;
  const app = ct.app;
  const st = await runtime.state(spec.id);
  if (st.status !== 'absent') await runtime.delete(spec.id, true);
  const t0 = Date.now();
  const created = await runtime.create(spec.id, b.bundle, {
    stdoutPath: join(b.runDir, 'serial.log'),
    start: false,
    logMaxBytes: CONTAINER_LOG_MAX,
    // Every container's end is recorded (the driver's exit events come from this file), a system container's console lines too.
    exitFile: b.exitFile ?? join(b.runDir, EXIT_FILE),
    ...(app ? {} : { consoleFifo: join(b.runDir, 'console.fifo') }),
  });
  const t1 = Date.now();
  try {
    // Its own cgroup2 tree for the init (systemd needs one it may write), before init runs.
    if (!app) await delegateCgroup(spec.cgroupsPath, { uid: ct.hostId, gid: ct.hostId }, deps.cgroupRoot ?? CGROUP_ROOT);
    await plumbNetns(deps.net, ct.netns, b.nics, created.pid, b.setup, deps.netnsPaths ?? HOST_NETNS_PATHS);
    const t2 = Date.now();
    await runtime.start(spec.id);
    deps.log.debug({ instance: spec.hostname, createMs: t1 - t0, plumbMs: t2 - t1, startMs: Date.now() - t2 }, 'container booted');
  } catch (e) {
    await runtime.delete(spec.id, true).catch(() => undefined);
    await dropNetns(deps.exec, ct.netns, deps.netnsPaths);
    throw e;
  }
}
