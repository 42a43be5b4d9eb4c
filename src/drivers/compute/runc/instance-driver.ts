// Containers as an InstanceDriver: system containers (/sbin/init over an overlay of the image's
// tree) and application containers (an OCI image's process), run by runc. Every host name comes
// from the instance's pinned host ids and its ContainerInfo (driverConfig), never from its name.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from '../../../host/spawn.js';
import type { HostExec } from '../../../host/exec.js';
import { conflict, invalid } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/log.js';
import type { IoLimits } from '../../../shared/storage-types.js';
import type { Nic } from '../../../shared/api-types.js';
import type {
  ConsoleHandle, DriverCapabilities, DriverEvent, InstanceDriver, InstanceRef, InstanceSpec, InstanceStatus, PlanInput, PowerState, PrepareInput,
  SnapshotData, VolumeSnapshotPort, VolumeSpec,
} from '../instance-driver.js';
import { bootContainer } from './boot.js';
import { CGROUP_ROOT, readOomKills } from './cgroups.js';
import { readCgroupUsage } from './cgroup-usage.js';
import { boundedLogTail } from './console-log.js';
import { cgroupParentOf, EXIT_FILE, ID_SIZE, readMarker, type ContainerInfo } from './container-info.js';
import { ExitWatcher } from './exits.js';
import { RuncLifecycle } from './lifecycle.js';
import { HOST_NETNS_PATHS, plugLiveNic, type NetnsHostPaths } from './netns.js';
import type { RenderOptions } from './oci-config.js';
import { planContainer, RUNC_CAPABILITIES, slotOfHostId } from './plan.js';
import type { NetnsPort, RuncRuntime } from './ports.js';
import { makeRoot, removeRoot, retargetRoot, writeSeed } from './root.js';
import { mountHelper as hostMountHelper, type MountHelper } from './rootfs/mount-helper.js';
import { unmountContainerRoot } from './rootfs/container-root.js';
import { execExitCode, RuncDriver } from './runc-driver.js';
import { openRootForBackup, RESTORE_STAGING, restoreRootTree, type FsBackupHost } from './fs-backup.js';
import type { FsBackupSession } from '../../../shared/backup-source.js';
import { checkRuncVersion } from './runc-version.js';
import { deleteSnapshot, restoreSnapshot, takeSnapshot, type SnapshotHost } from './snapshots.js';
import { hostStatusPaths, readExitCode, readLiveState, type StatusPaths } from './status.js';
import { assertVolumeFree, plugVolume, shiftVolume, unplugVolume } from './volumes.js';
import { cpusetList } from '../../../lib/cpuset.js';

/** What the runc instance driver is built from (host parts replaceable in unit tests). */
export interface RuncInstanceDriverDeps {
  exec: HostExec;
  log: Logger;
  /** The runtime CLI (RuncDriver) and its --root. */
  runtime: RuncRuntime & { readonly root: string };
  /** Network plumbing (core's network service, lent as the registry's DriverPorts.network). */
  network: NetnsPort;
  /** Per-daemon prefix of host object names. */
  prefix: string;
  /** Where the exit shims write how each container's init ended (one file per instance UUID). */
  exitsDir: string;
  status?: StatusPaths;
  netnsPaths?: NetnsHostPaths;
  cgroupRoot?: string;
  mountHelper?: Pick<MountHelper, 'inject' | 'detach' | 'volumeHolders' | 'volumeMounts'>;
  shiftVolume?: typeof shiftVolume;
  renderOptions?: () => Promise<RenderOptions>;
  recheckMs?: number;
}

/** The container part of a ref, and its runtime id and cgroup (pinned in the record). */
function idsOf(ref: InstanceRef): { ct: ContainerInfo; id: string; cgroup: string } {
  const ct = ref.driverConfig as ContainerInfo | undefined;
  const id = ref.hostIds.runtimeId;
  const cgroup = ref.hostIds.cgroup;
  if (!ct || typeof ct.hostId !== 'number' || !id || !cgroup) throw conflict(`container ${ref.name} has no container host ids in its record`);
  return { ct, id, cgroup };
}

/** runc containers behind the InstanceDriver interface. */
export class RuncInstanceDriver implements InstanceDriver {
  readonly name = 'runc';
  private readonly lifecycle: RuncLifecycle;
  private readonly exits: ExitWatcher;
  private readonly statusPaths: StatusPaths;
  private readonly cgroupRoot: string;
  private readonly helper: NonNullable<RuncInstanceDriverDeps['mountHelper']>;

  constructor(private readonly d: RuncInstanceDriverDeps) {
    this.cgroupRoot = d.cgroupRoot ?? CGROUP_ROOT;
    this.statusPaths = d.status ?? hostStatusPaths(d.runtime.root);
    this.lifecycle = new RuncLifecycle(d.runtime, d.exec, { netns: d.netnsPaths ?? HOST_NETNS_PATHS, cgroupRoot: this.cgroupRoot });
    this.exits = new ExitWatcher({ exitsDir: d.exitsDir, status: this.statusPaths, log: d.log, ...(d.recheckMs ? { recheckMs: d.recheckMs } : {}) });
    this.helper = d.mountHelper ?? hostMountHelper;
  }

  capabilities(): DriverCapabilities {
    return { ...RUNC_CAPABILITIES };
  }

  plan(req: PlanInput): Promise<ContainerInfo> {
    return planContainer(req, this.d.prefix);
  }

  async release(ref: InstanceRef, ids: Pick<PlanInput, 'releaseId'>): Promise<void> {
    const ct = ref.driverConfig as ContainerInfo | undefined;
    if (ct && typeof ct.hostId === 'number') await ids.releaseId('id-range', slotOfHostId(ct.hostId));
  }

  async prepare(spec: InstanceSpec, input: PrepareInput): Promise<void> {
    const { ct } = idsOf(spec);
    mkdirSync(spec.hostIds.instanceDir, { recursive: true, mode: 0o711 });
    await writeSeed(spec.hostIds.instanceDir, ct.hostId, input.seed);
    if (input.root === 'keep') return;
    if (input.root === 'copy') {
      // A clone of another container's root: its state file names the range its files belong to; the next mount shifts them.
      await retargetRoot(this.d.exec, spec.root.path, ct.hostId);
      return;
    }
    if (!input.lowerDir) throw invalid(`container ${spec.name}: the image has no unpacked tree for its root`);
    const root = await makeRoot(this.d.exec, input.lowerDir, spec.root.path, ct.hostId);
    if (root.fallbackReason) this.d.log.warn({ instance: spec.name, mode: root.mode, reason: root.fallbackReason }, 'container root fell back');
  }

  async removeRoot(_ref: InstanceRef, root: { path: string }): Promise<void> {
    await removeRoot(this.d.exec, root.path);
    rmSync(join(root.path, RESTORE_STAGING), { recursive: true, force: true }); // left by a restore the daemon did not finish
  }

  async start(spec: InstanceSpec): Promise<void> {
    const { ct, id, cgroup } = idsOf(spec);
    // Already running (a start racing an exit event, or after a daemon restart): only make sure its end is watched.
    if ((await this.live(spec)).state !== 'stopped') return this.adopt(spec);
    this.exits.starting(spec.uuid);
    rmSync(join(spec.hostIds.runDir, EXIT_FILE), { force: true }); // one left by an older version's run
    await bootContainer(
      { exec: this.d.exec, runtime: this.d.runtime, net: this.d.network, log: this.d.log, ...this.hostOpts() },
      {
        name: spec.name,
        runtimeId: id,
        cgroupsPath: cgroup,
        runDir: spec.hostIds.runDir,
        instanceDir: spec.hostIds.instanceDir,
        rootDir: spec.root.path,
        rootPool: spec.root.pool,
        cpus: spec.cpus,
        memoryBytes: spec.memoryBytes,
        ...(spec.cpuset?.length ? { cpuset: spec.cpuset } : {}),
        container: ct,
        nics: spec.nics,
        volumeMounts: spec.volumes.filter((v) => v.mountPath).map((v) => ({ source: v.path, destination: v.mountPath!, readonly: false })),
        networks: ct.app ? spec.networks : new Map(),
        exitFile: this.exits.exitFile(spec.uuid),
      },
    );
    this.exits.add({ uuid: spec.uuid, runtimeId: id, container: ct });
  }

  private hostOpts() {
    return {
      ...(this.d.renderOptions ? { renderOptions: this.d.renderOptions } : {}),
      ...(this.d.netnsPaths ? { netnsPaths: this.d.netnsPaths } : {}),
      cgroupRoot: this.cgroupRoot,
    };
  }

  async stop(ref: InstanceRef, opts: { timeoutMs: number; force: boolean }): Promise<void> {
    const { ct, id } = idsOf(ref);
    this.exits.expectStop(ref.uuid);
    if (opts.force) await this.lifecycle.killById({ id, netns: ct.netns });
    else await this.lifecycle.stopById({ id, stopSignal: ct.stopSignal, netns: ct.netns }, opts.timeoutMs);
  }

  /** Live: the container's cores (a shared one moved off cores that became dedicated, or back onto freed ones). */
  async setCpuset(ref: InstanceRef, cores: number[]): Promise<void> {
    await this.d.runtime.updateCpuset?.(idsOf(ref).id, cpusetList(cores));
  }

  async pause(ref: InstanceRef): Promise<void> {
    await this.d.runtime.pause(idsOf(ref).id);
  }

  async resume(ref: InstanceRef): Promise<void> {
    await this.d.runtime.resume(idsOf(ref).id);
  }

  /**
   * The live state and init pid from runc's files (no process). A runtime that keeps no state.json
   * (crun) is asked instead, only while it has a directory for the container.
   */
  private async live(ref: InstanceRef): Promise<{ state: PowerState; pid: number | null }> {
    const { id, cgroup } = idsOf(ref);
    const st = readLiveState(this.statusPaths, id, cgroup);
    const dir = join(this.statusPaths.runcRoot, id);
    if (st.state !== 'stopped' || !existsSync(dir) || existsSync(join(dir, 'state.json'))) return st;
    const r = await this.d.runtime.state(id);
    if (r.status === 'absent' || r.status === 'stopped' || !r.pid) return { state: 'stopped', pid: null };
    return { state: r.status === 'paused' ? 'paused' : 'running', pid: r.pid };
  }

  async status(ref: InstanceRef, opts: { usage?: boolean } = {}): Promise<InstanceStatus> {
    const { id, cgroup } = idsOf(ref);
    const live = await this.live(ref);
    const out: InstanceStatus = {
      state: live.state,
      pid: live.pid,
      // How init ended: this version's exit file, else one an older version kept in the run dir (apps).
      exitCode: live.state === 'stopped' ? readExitCode(this.exits.exitFile(ref.uuid)) ?? readExitCode(join(ref.hostIds.runDir, EXIT_FILE)) : null,
      oomKills: readOomKills(cgroup, this.cgroupRoot),
    };
    if (opts.usage && live.state !== 'stopped') {
      // The cgroup's files first (no spawn: the metrics sampler asks every 10 s); the runtime when they are not there.
      const cg = await readCgroupUsage(cgroup, this.cgroupRoot);
      if (cg) out.usage = cg;
      else {
        try {
          const s = await this.d.runtime.stats(id);
          out.usage = { cpuSeconds: Math.round(s.cpuNs / 1e6) / 1e3, memoryBytes: s.memoryBytes, pids: s.pids };
        } catch {
          /* it ended meanwhile: no usage */
        }
      }
    }
    return out;
  }

  async destroy(ref: InstanceRef, nics: Nic[], root?: { path: string }): Promise<void> {
    const { ct, id } = idsOf(ref);
    this.exits.expectStop(ref.uuid);
    await this.lifecycle.teardown(
      { id, netns: ct.netns, taps: nics.map((n) => n.tap), ...(root ? { rootDir: async () => root.path } : {}), cgroupParent: cgroupParentOf(this.d.prefix) },
      this.d.network,
    );
    this.exits.remove(ref.uuid);
    rmSync(ref.hostIds.runDir, { recursive: true, force: true });
    rmSync(ref.hostIds.instanceDir, { recursive: true, force: true });
  }

  async adopt(ref: InstanceRef): Promise<void> {
    const { ct, id } = idsOf(ref);
    let exitFile: string | undefined;
    try {
      exitFile = readMarker(ref.hostIds.runDir).exitFile;
    } catch {
      /* no marker: started by an old version */
    }
    // Started by an older version: no exit file in the exits dir; its init's /proc entry (and a run-dir exit file) tell its end.
    const legacy = exitFile !== this.exits.exitFile(ref.uuid);
    this.exits.add({ uuid: ref.uuid, runtimeId: id, container: ct, ...(legacy ? { legacy, legacyExitFile: join(ref.hostIds.runDir, EXIT_FILE) } : {}) });
  }

  async plugNic(spec: InstanceSpec, nic: Nic, live: boolean): Promise<void> {
    // A stopped container gets its veths at its next start.
    if (live) await plugLiveNic(this.d.network, idsOf(spec).ct.netns, nic);
  }

  async unplugNic(_spec: InstanceSpec, nic: Nic, _live?: boolean): Promise<void> {
    // The NIC is a veth: deleting its host end removes the container's end too.
    await this.d.network.deleteTap(nic.tap);
  }

  async checkUnplugVolume(_ref: InstanceRef, vol: VolumeSpec): Promise<void> {
    if (vol.mountPath) await assertVolumeFree(vol.path, this.helper);
  }

  async plugVolume(spec: InstanceSpec, vol: VolumeSpec, live: boolean): Promise<{ idOwner?: number }> {
    const { ct } = idsOf(spec);
    if (!vol.mountPath) throw invalid(`give the path where ${vol.pool}/${vol.volume} is mounted in container ${spec.name} (--path)`);
    // Never re-own a tree another container can still write to (e.g. one left mounted by an older daemon).
    const users = await this.helper.volumeMounts(vol.path);
    if (users.length) throw conflict(`volume ${vol.pool}/${vol.volume} is still mounted at ${users[0]!.mountPoint} in the mount namespace of host pid ${users[0]!.pid}: detach it there first`);
    await (this.d.shiftVolume ?? shiftVolume)(vol.path, ct.hostId, ID_SIZE, vol.idOwner);
    if (live) {
      const { pid } = await this.live(spec);
      if (!pid) throw conflict(`container ${spec.name} is not running`);
      await plugVolume(pid, vol.path, vol.mountPath, ct.hostId, this.helper as MountHelper);
    }
    return { idOwner: ct.hostId };
  }

  async unplugVolume(_ref: InstanceRef, vol: VolumeSpec, _live?: boolean): Promise<void> {
    // Out of every mount namespace, running or not (a no-op when none has it).
    if (vol.mountPath) await unplugVolume(vol.path, this.helper as MountHelper);
  }

  async resizeVolume(ref: InstanceRef): Promise<void> {
    throw conflict(`container ${ref.name}: its volumes grow in their pool, not through the container`);
  }

  async setVolumeLimits(ref: InstanceRef, _vol: unknown, _limits?: IoLimits): Promise<void> {
    throw conflict(`container ${ref.name}: volume I/O limits are not set live in containers`);
  }

  private get snapshotHost(): SnapshotHost {
    return {
      state: async (spec) => (await this.live(spec)).state,
      pause: (spec) => this.pause(spec),
      resume: (spec) => this.resume(spec),
      unmountRoot: (path) => unmountContainerRoot(this.d.exec, path),
    };
  }

  snapshot(spec: InstanceSpec, req: { name: string; stateful: boolean }, vols: VolumeSnapshotPort, progress?: (pct: number, msg: string) => void): Promise<SnapshotData> {
    return takeSnapshot(this.snapshotHost, spec, req, vols, progress);
  }

  restoreSnapshot(spec: InstanceSpec, name: string, data: SnapshotData, vols: VolumeSnapshotPort): Promise<void> {
    return restoreSnapshot(this.snapshotHost, spec, name, data, vols);
  }

  deleteSnapshot(spec: InstanceSpec, name: string, data: SnapshotData, vols: VolumeSnapshotPort): Promise<void> {
    return deleteSnapshot(spec, name, data, vols);
  }

  private get fsHost(): FsBackupHost {
    return { exec: this.d.exec, state: async (spec) => (await this.live(spec)).state };
  }

  openFsBackup(spec: InstanceSpec, log: (line: string) => void): Promise<FsBackupSession> {
    return openRootForBackup(this.fsHost, spec, idsOf(spec).ct.hostId, log);
  }

  restoreFsRoot(spec: InstanceSpec, fill: (dir: string, ids: { idBase: number; idCount: number }) => Promise<unknown>, log: (line: string) => void): Promise<void> {
    return restoreRootTree(this.fsHost, spec, idsOf(spec).ct.hostId, fill, log);
  }

  /** A process in the running container; Conflict naming the instance when it is not running. */
  private async running(ref: InstanceRef): Promise<string> {
    const { state } = await this.live(ref);
    if (state !== 'running') throw conflict(`container ${ref.name} is ${state}`);
    return idsOf(ref).id;
  }

  async console(ref: InstanceRef): Promise<ConsoleHandle> {
    // A container has no serial line: its console is a login shell on a pty inside it.
    return { kind: 'pty', child: await this.d.runtime.execSpawn(await this.running(ref), ['/bin/sh', '-l'], { tty: true }) };
  }

  consoleLog(ref: InstanceRef, bytes: number): string {
    return boundedLogTail(join(ref.hostIds.runDir, 'serial.log'), bytes);
  }

  async exec(ref: InstanceRef, args: string[], opts: { tty: boolean; rows?: number; cols?: number }): Promise<ChildProcess> {
    return this.d.runtime.execSpawn(await this.running(ref), args, { tty: opts.tty, ...(opts.rows ? { rows: opts.rows } : {}), ...(opts.cols ? { cols: opts.cols } : {}) });
  }

  execExitCode(ref: InstanceRef, code: number, stderrTail: string): number {
    return execExitCode(idsOf(ref).id, code, stderrTail);
  }

  watch(cb: (ev: DriverEvent) => void): () => void {
    return this.exits.subscribe(cb);
  }

  close(): void {
    this.exits.close();
  }
}

/**
 * What the factory is given: the registry's DriverPorts and DriverOptions, as far as runc uses them
 * (declared here, not imported: registry.ts loads this file, so an import back would close a cycle;
 * the registry's DRIVERS table checks that this factory is a DriverFactory).
 */
export interface RuncFactoryPorts {
  exec: HostExec;
  log: Logger;
  network: NetnsPort;
}
export interface RuncFactoryOptions {
  stateDir: string;
  prefix: string;
  containerRuntime: string;
}

/** The runc driver of a daemon (a DriverFactory): unavailable when the runtime cannot run; warns when it lacks known escape fixes. */
export async function createRuncInstanceDriver(ports: RuncFactoryPorts, opts: RuncFactoryOptions): Promise<InstanceDriver | { unavailable: string }> {
  const runtime = opts.containerRuntime || 'runc';
  const report = await checkRuncVersion(ports.exec, runtime);
  if (report.failed) {
    ports.log.warn({ runtime }, report.detail);
    return { unavailable: `${runtime} is missing` };
  }
  // Known runc container escapes: warn at start when the runtime lacks their fixes (also in `nimbo doctor`).
  if (report.missing.length) ports.log.warn({ runtime, missing: report.missing.map((c) => c.id) }, report.detail);
  else ports.log.info({ runtime }, report.detail);
  const runc = new RuncDriver({ exec: ports.exec, runtime, root: join(opts.stateDir, 'run', 'runc'), logger: ports.log });
  // 'runc.exits' holds a dot: no instance name or UUID (the other run dirs) can take it.
  return new RuncInstanceDriver({ exec: ports.exec, log: ports.log, runtime: runc, network: ports.network, prefix: opts.prefix, exitsDir: join(opts.stateDir, 'run', 'runc.exits') });
}
