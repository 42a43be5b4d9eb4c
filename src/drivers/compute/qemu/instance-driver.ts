// The QEMU instance driver: VMs behind the InstanceDriver interface. QemuDriver runs the processes
// and keeps the one QMP connection and serial relay per VM; this adds what an instance needs
// around them (taps, volumes, hot-plugs, seed, snapshots, events) from the spec core resolved.
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { mkdir, rm } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import type { HostExec } from '../../../host/exec.js';
import { conflict, invalid } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/log.js';
import type { Nic } from '../../../shared/api-types.js';
import type { IoLimits } from '../../../shared/storage-types.js';
import type {
  ConsoleHandle, DriverCapabilities, DriverEvent, InstanceDriver, InstanceRef, InstanceSpec, InstanceStatus, PlanInput, PrepareInput,
  SnapshotData, VmTemplateShape, VolumeSpec,
} from '../instance-driver.js';
import type { Accelerator, VmSpec } from '../types.js';
import { DEFAULT_QEMU_BINARY } from './argv.js';
import { QEMU_CAPABILITIES } from './capabilities.js';
import { QemuDriver, type QemuDriverOptions } from './driver.js';
import type { QmpClient } from './qmp.js';
import { procUsage, sumBlockStats } from './proc-usage.js';
import { livePid, type ProcOptions } from './qemu-process.js';
import type { QemuFactoryOptions, QemuPorts } from './ports.js';
import { runPaths } from './run-paths.js';
import { buildSeedIso } from './seed-iso.js';
import { changeMedium } from './media-ops.js';
import { serialLogTail } from './serial-relay.js';
import { qemuIdOf, VmDevices } from './vm-devices.js';
import { VmWatcher, type WatchedVm } from './vm-events.js';
import { deleteSnapshot, restoreSnapshot, takeSnapshot, type VmSnapshotHost } from './vm-snapshots.js';
import { pinVm } from './cpu-pin.js';
import { checkTemplateShape, saveVmTemplate } from './vm-template.js';
import { reseedWarmGuest } from './warm-start.js';
import { openVmBlockBackup } from './backup-session.js';
import { enableGuestStats, guestMemory, hotAdd } from './hotplug.js';
import { describeFirmware, firmwareOf } from './firmware.js';
import { VmFirmwareHost, type VmStateFile } from './vm-firmware.js';
import { agentShutdown } from './guest-agent.js';
import { VmGuestAgent } from './vm-guest-agent.js';
import type { BlockBackupRequest, BlockBackupSession } from '../../../shared/backup-source.js';
import { DEFAULT_ARCH, nativeArch, type ArchSupport } from '../../../shared/arch-types.js';
import { allArchSupport, archProfile, type QemuBinaries } from './arch.js';
import { nvramPath } from './nvram.js';

/** How long a status() with usage waits for QEMU's block statistics. */
const BLOCKSTATS_TIMEOUT_MS = 2000;

/** A VM's instance dir (seed ISO): root's, traversable by its QEMU (which opens the seed as root, before -runas). */
const INSTANCE_DIR_MODE = 0o711;

/** The VM's seed ISO (cloud-init NoCloud), in its instance dir. */
const seedIso = (ref: InstanceRef): string => join(ref.hostIds.instanceDir, 'seed.iso');

/** The hot-add room of a spec in argv terms (none when max is absent or not above the size). */
function maxOf(spec: Pick<InstanceSpec, 'cpus' | 'memoryBytes' | 'maxCpus' | 'maxMemoryBytes'>): Pick<VmSpec, 'maxCpus' | 'maxMemoryMiB'> {
  return {
    ...(spec.maxCpus !== undefined && spec.maxCpus > spec.cpus ? { maxCpus: spec.maxCpus } : {}),
    ...(spec.maxMemoryBytes !== undefined && spec.maxMemoryBytes > spec.memoryBytes ? { maxMemoryMiB: Math.floor(spec.maxMemoryBytes / 1024 ** 2) } : {}),
  };
}

/** Options of QemuInstanceDriver. */
export interface QemuInstanceDriverOptions {
  /** QEMU's shared user (VMs from before per-VM uids). */
  qemuUser: string;
  /** The accelerator this host boots VMs with (the daemon's probe). */
  accelerator: Accelerator;
  /** Emulators per guest architecture instead of arch.ts's (configuration: `nimbo daemon --qemu-binary ARCH=PATH`). */
  binaries?: QemuBinaries;
  /** The QemuDriver's options (exec, binary, timeouts; attachSerial is always on). */
  qemu: Omit<QemuDriverOptions, 'onClient' | 'attachSerial' | 'proc'>;
  /** For tests: where /proc and /sys live. */
  proc?: ProcOptions;
  sysRoot?: string;
  /** How long an exited QEMU may linger after closing QMP (default 3 s). */
  exitWaitMs?: number;
  /** Where OVMF is (default /usr/share/OVMF, Debian's ovmf package). */
  ovmfDir?: string;
}

/** VMs as instances: QEMU processes over QMP, each with its own uid, taps, disks and serial console. */
export class QemuInstanceDriver implements InstanceDriver {
  readonly name = 'qemu';
  /** The process driver (QMP connections and serial relays, one per VM). */
  readonly qemu: QemuDriver;
  private readonly hostExec: HostExec;
  private readonly log: Logger;
  private readonly devices: VmDevices;
  private readonly watcher: VmWatcher;
  private readonly snaps: VmSnapshotHost;
  private readonly fw: VmFirmwareHost;
  /** The VMs' guest agents (qemu-ga on the virtio-serial port every VM has). */
  readonly guestAgent: VmGuestAgent;

  constructor(private readonly ports: QemuPorts, private readonly opts: QemuInstanceDriverOptions) {
    this.hostExec = opts.qemu.exec;
    this.fw = new VmFirmwareHost({ exec: this.hostExec, ovmfDir: opts.ovmfDir });
    this.log = ports.log;
    this.watcher = new VmWatcher({
      log: this.log,
      proc: opts.proc,
      exitWaitMs: opts.exitWaitMs,
      reconnect: (runDir) => this.qemu.qmp(runDir),
      cleanup: (runDir) => this.qemu.kill(runDir), // QEMU is gone: kill only drops its relay, socket and pidfile
    });
    // attachSerial: QEMU starts paused until the console relay is connected, so the log starts at the first byte.
    this.guestAgent = new VmGuestAgent({ live: async (ref) => (await this.qemu.pid(ref.hostIds.runDir)) !== undefined, log: this.log });
    const onClient = (runDir: string, c: QmpClient) => {
      this.watcher.bind(runDir, c);
      this.guestAgent.watch(runDir, c);
    };
    this.qemu = new QemuDriver({ ...opts.qemu, binaries: opts.binaries ?? opts.qemu.binaries, logger: opts.qemu.logger ?? this.log, attachSerial: true, proc: opts.proc, onClient });
    this.devices = new VmDevices({ qemu: this.qemu, exec: this.hostExec, network: ports.network, qemuUser: opts.qemuUser, sysRoot: opts.sysRoot });
    this.snaps = {
      qemu: this.qemu,
      exec: this.hostExec,
      live: (spec) => this.live(spec),
      quietly: (spec, fn) => this.busy(spec, fn),
      start: (spec) => this.start(spec),
      frozen: (spec, instant, log) => this.guestAgent.frozen(spec, instant, log),
    };
  }

  capabilities(): DriverCapabilities {
    return QEMU_CAPABILITIES;
  }

  /** Every guest architecture: native or emulated, and what its emulator or firmware lacks here. */
  archSupport(): ArchSupport[] {
    return allArchSupport(this.opts.binaries ?? this.opts.qemu.binaries);
  }

  async plan(req: PlanInput): Promise<unknown> {
    const containerOnly = req.pids !== undefined || req.cpuWeight !== undefined || req.swap !== undefined || Object.values(req.diskRates ?? {}).some((v) => v !== undefined);
    if (containerOnly) throw invalid('pids, cpuWeight, swap and the disk rates are container limits');
    // Firmware first (refused before any id is taken); a copy or restore keeps its source's.
    const fw = this.fw.plan(req, req.from);
    // Its own uid/gid: one escaped QEMU cannot open another VM's disks, taps or sockets.
    return { qemuId: await req.allocateId('vm-uid'), ...fw };
  }

  async release(ref: InstanceRef, ids: Pick<PlanInput, 'releaseId'>): Promise<void> {
    const id = qemuIdOf(ref);
    if (id !== undefined) await ids.releaseId('vm-uid', id);
  }

  async prepare(spec: InstanceSpec, input: PrepareInput): Promise<void> {
    await mkdir(spec.hostIds.instanceDir, { recursive: true, mode: INSTANCE_DIR_MODE });
    await buildSeedIso(this.hostExec, input.seed, seedIso(spec));
  }

  /** The VM spec QemuDriver starts: root disk, then the seed ISO; NICs given at boot (hot-plugged ones come after start). */
  vmSpec(spec: InstanceSpec): VmSpec {
    if (!spec.boot) throw invalid(`VM ${spec.name} has no boot method (its image gives none)`);
    const arch = spec.arch ?? DEFAULT_ARCH;
    const fw = this.fw.spec(spec);
    return {
      name: spec.name,
      uuid: spec.uuid,
      cpus: spec.cpus,
      memoryMiB: Math.floor(spec.memoryBytes / 1024 ** 2),
      ...maxOf(spec),
      // The host's choice (the daemon probes KVM), not the record's: a VM made under KVM still boots where KVM went away.
      // Another architecture than the host's is always emulated.
      accelerator: arch === nativeArch() ? this.opts.accelerator : 'tcg',
      ...(arch !== DEFAULT_ARCH ? { arch } : {}),
      ...(spec.boot.kind === 'disk' && archProfile(arch).uefi ? { uefiVars: nvramPath(spec.hostIds.instanceDir) } : {}),
      // UEFI loads a direct-boot kernel only as a bzImage (its EFI stub): the image's, when its usual one is a PVH vmlinux.
      boot: fw.firmware && spec.boot.kind === 'direct' && spec.boot.efiKernel ? { ...spec.boot, kernel: spec.boot.efiKernel } : spec.boot,
      // Installed from an ISO: no cloud-init seed; the CD-ROM drive boots first.
      disks: [
        { id: 'root', path: spec.root.path, format: spec.root.format ?? 'raw' },
        ...(spec.cdrom ? [] : [{ id: 'seed', path: seedIso(spec), format: 'raw' as const, readOnly: true }]),
      ],
      ...(spec.cdrom ? { cdrom: { ...spec.cdrom } } : {}),
      nics: spec.nics.filter((n) => !n.hotplug).map((n) => ({ id: n.name, tap: n.tap, mac: n.mac })),
      runDir: spec.hostIds.runDir,
      runAs: this.devices.runAs(spec),
      ...fw,
    };
  }

  /**
   * Taps (made when missing) and their limits, QEMU (the serial relay attached before its CPUs run), then
   * every volume and hot-plugged NIC plugged on hot-plug ports so they stay detachable. A failure after
   * QEMU started kills it again: a start either completes or leaves no process. Already running: adopted.
   */
  async removeRoot(): Promise<void> {
    // The root is a cloned disk image: the pool deletes it; nothing else on the host belongs to it.
  }

  async start(spec: InstanceSpec): Promise<void> {
    const runDir = resolve(spec.hostIds.runDir);
    if ((await this.qemu.pid(runDir)) !== undefined) return this.adopt(spec);
    const vm = this.vmSpec(spec); // validates before anything changes
    if (spec.warm) {
      checkTemplateShape(spec);
      vm.incoming = { stateFile: spec.warm.stateFile };
    }
    await this.devices.ensureTaps(spec, spec.nics);
    const w = this.watcher.track(runDir, spec);
    w.busy++;
    try {
      await this.fw.beforeStart(spec, vm.runAs!); // the vars file and swtpm, before QEMU opens them
      this.guestAgent.starting(runDir);
      await this.qemu.start(vm);
      w.pid = await this.qemu.pid(runDir);
      w.paused = false;
      if (spec.warm) this.log.info({ vm: spec.name, ms: await reseedWarmGuest(runDir, spec.warm) }, 'restored guest re-seeded');
      for (const vol of spec.volumes) await this.devices.plugVolume(spec, vol, true);
      for (const nic of spec.nics.filter((n) => n.hotplug)) await this.devices.hotplugNic(spec, nic);
      // The root's I/O limits (a plan's, or set with volume set-limits) hold from every boot on, not only live.
      const rl = spec.root.limits;
      if (rl && Object.values(rl).some((v) => v > 0)) await this.devices.setVolumeLimits(spec, 'root', rl);
      // The balloon's guest statistics (memory as the guest sees it) from the first boot on; best effort.
      await enableGuestStats(await this.qemu.qmp(runDir)).catch((e: unknown) => this.log.debug({ vm: spec.name, err: String(e) }, 'balloon statistics not enabled'));
      if (spec.cpuset?.length && w.pid !== undefined) await pinVm(this.hostExec, await this.qemu.qmp(runDir), w.pid, spec.cpuset, !!spec.dedicated);
    } catch (e) {
      this.watcher.forget(runDir, w);
      if ((await this.qemu.pid(runDir)) !== undefined) {
        this.log.warn({ vm: spec.name, err: String(e) }, 'start failed after qemu started; stopping it');
        await this.qemu.kill(runDir).catch(() => undefined);
      }
      await this.fw.afterStop(spec).catch(() => undefined);
      throw e;
    } finally {
      w.busy--;
    }
  }

  async saveTemplate(spec: InstanceSpec, out: { stateFile: string; disk: string }, progress: (pct: number, msg: string) => void): Promise<VmTemplateShape> {
    const host = { qemu: this.qemu, exec: this.hostExec, accelerator: this.opts.accelerator, vmSpec: (s: InstanceSpec) => this.vmSpec(s) };
    return this.busy(spec, () => saveVmTemplate(host, spec, out, progress));
  }

  async stop(ref: InstanceRef, opts: { timeoutMs: number; force: boolean }): Promise<void> {
    const runDir = resolve(ref.hostIds.runDir);
    const w = this.watcher.get(runDir);
    // Asked for: its exit is this call's result, not an event.
    if (w) w.busy++;
    try {
      if (opts.force) await this.qemu.kill(runDir);
      else await this.qemu.shutdown(runDir, opts.timeoutMs, () => this.agentShutdown(ref));
      this.watcher.forget(runDir, w);
      await this.fw.afterStop(ref);
    } finally {
      if (w) w.busy--;
    }
  }

  /** Hot-add CPUs and memory to the running VM (hotplug.ts). */
  async resizeLive(ref: InstanceRef, want: { cpus: number; memoryBytes: number; maxCpus: number; maxMemoryBytes: number }): Promise<{ cpus: number; memoryBytes: number }> {
    const runDir = resolve(ref.hostIds.runDir);
    if ((await livePid(runDir, this.opts.proc)) === undefined) throw conflict(`instance ${ref.name} is not running`);
    return hotAdd(await this.qemu.qmp(runDir), want, this.log);
  }

  /** Live: pin the running VM's threads to `cores` (see cpu-pin.ts); nothing when it does not run. */
  async setCpuset(ref: InstanceRef, cores: number[], dedicated: boolean): Promise<void> {
    const runDir = resolve(ref.hostIds.runDir);
    const pid = await livePid(runDir, this.opts.proc);
    if (pid === undefined) return;
    await pinVm(this.hostExec, await this.qemu.qmp(runDir), pid, cores, dedicated);
  }

  async pause(ref: InstanceRef): Promise<void> {
    await this.busy(ref, () => this.qemu.pause(ref.hostIds.runDir));
    const w = this.watcher.get(resolve(ref.hostIds.runDir));
    if (w) w.paused = true;
  }

  async resume(ref: InstanceRef): Promise<void> {
    await this.busy(ref, () => this.qemu.resume(ref.hostIds.runDir));
    const w = this.watcher.get(resolve(ref.hostIds.runDir));
    if (w) w.paused = false;
  }

  /** Pidfile + /proc; paused from the last STOP/RESUME event, else one query on the cached connection. */
  async status(ref: InstanceRef, opts: { usage?: boolean } = {}): Promise<InstanceStatus> {
    const runDir = resolve(ref.hostIds.runDir);
    const pid = await livePid(runDir, this.opts.proc);
    if (pid === undefined) return { state: 'stopped', pid: null };
    const w = this.watcher.get(runDir);
    let paused = w?.client && !w.client.closed ? w.paused : undefined;
    if (paused === undefined) {
      try {
        paused = !(await (await this.qemu.qmp(runDir)).execute<{ running: boolean }>('query-status')).running;
        if (w) w.paused = paused;
      } catch (e) {
        if ((await livePid(runDir, this.opts.proc)) === undefined) return { state: 'stopped', pid: null }; // it just exited
        throw e;
      }
    }
    const usage = opts.usage ? await procUsage(pid, this.opts.proc) : undefined;
    if (usage) {
      // Disk counters over the VM's one cached QMP connection (no spawn), bounded: a busy QMP leaves them out.
      const stats = await this.qemu.qmp(runDir).then((c) => c.execute('query-blockstats', undefined, { timeoutMs: BLOCKSTATS_TIMEOUT_MS })).catch(() => undefined);
      const guest = await this.qemu.qmp(runDir).then((c) => guestMemory(c, BLOCKSTATS_TIMEOUT_MS)).catch(() => undefined);
      const more = { ...(stats !== undefined ? { disk: sumBlockStats(stats) } : {}), ...(guest ? { guestMemory: guest } : {}) };
      return { state: paused ? 'paused' : 'running', pid, usage: { ...usage, ...more } };
    }
    return { state: paused ? 'paused' : 'running', pid, ...(usage ? { usage } : {}) };
  }

  /** Kill it if it runs, delete its taps, remove its run and instance dirs (its serial log with them). */
  async destroy(ref: InstanceRef, nics: Nic[]): Promise<void> {
    const runDir = resolve(ref.hostIds.runDir);
    const w = this.watcher.get(runDir);
    if (w) w.busy++;
    try {
      await this.qemu.kill(runDir); // also closes the relay and the QMP connection when it is not running
      this.watcher.forget(runDir, w);
      await this.fw.afterStop(ref);
    } finally {
      if (w) w.busy--;
    }
    for (const nic of nics) await this.ports.network.deleteTap(nic.tap);
    await rm(runDir, { recursive: true, force: true });
    await rm(ref.hostIds.instanceDir, { recursive: true, force: true });
  }

  /** A VM found running after a daemon start: follow its QMP events and relay its console again. */
  async adopt(ref: InstanceRef): Promise<void> {
    const runDir = resolve(ref.hostIds.runDir);
    const pid = await livePid(runDir, this.opts.proc);
    if (pid === undefined) return;
    let w = this.watcher.get(runDir);
    if (!w || w.pid !== pid) {
      w = this.watcher.track(runDir, ref);
      w.pid = pid;
    }
    const qmp = await this.qemu.qmp(runDir);
    w.client = qmp; // the cached connection may predate the watch
    w.paused ??= !(await qmp.execute<{ running: boolean }>('query-status')).running;
    this.qemu.serial(runDir);
  }

  /** Its firmware (BIOS or UEFI, Secure Boot, TPM) for the instance view. */
  describe(ref: InstanceRef): { firmware: { type: 'bios' | 'uefi'; secureBoot: boolean; tpm: boolean } } {
    return { firmware: describeFirmware(firmwareOf(ref.driverConfig)) };
  }

  /** Its UEFI vars file and TPM state, for copies and backups. */
  exportState(ref: InstanceRef): Promise<VmStateFile[]> {
    return this.fw.exportState(ref);
  }

  /** Put state files (a source's or a backup's) into this VM, owned by its QEMU uid. */
  importState(ref: InstanceRef, files: VmStateFile[]): Promise<void> {
    return this.fw.importState(ref, files, this.devices.runAs(ref));
  }

  plugNic(spec: InstanceSpec, nic: Nic, live: boolean): Promise<void> {
    return this.devices.plugNic(spec, nic, live);
  }

  unplugNic(spec: InstanceSpec, nic: Nic, live: boolean): Promise<void> {
    return this.devices.unplugNic(spec, nic, live);
  }

  /** A VM's disk is held by QEMU alone: nothing on the host to wait for. */
  async checkUnplugVolume(): Promise<void> {}

  async plugVolume(spec: InstanceSpec, vol: VolumeSpec, live: boolean): Promise<{ idOwner?: number }> {
    await this.devices.plugVolume(spec, vol, live);
    return {};
  }

  unplugVolume(ref: InstanceRef, vol: VolumeSpec, live: boolean): Promise<void> {
    return this.devices.unplugVolume(ref, vol, live);
  }

  resizeVolume(ref: InstanceRef, vol: { pool: string; volume: string } | 'root', bytes: number): Promise<void> {
    return this.devices.resizeVolume(ref, vol, bytes);
  }

  setVolumeLimits(ref: InstanceRef, vol: { pool: string; volume: string } | 'root', limits: IoLimits): Promise<void> {
    return this.devices.setVolumeLimits(ref, vol, limits);
  }

  snapshot(spec: InstanceSpec, req: { name: string; stateful: boolean }, _vols: unknown, progress?: (pct: number, msg: string) => void): Promise<SnapshotData> {
    return takeSnapshot(this.snaps, spec, req, progress);
  }

  restoreSnapshot(spec: InstanceSpec, name: string, data: SnapshotData): Promise<void> {
    return restoreSnapshot(this.snaps, spec, name, data);
  }

  deleteSnapshot(spec: InstanceSpec, name: string, data: SnapshotData): Promise<void> {
    return deleteSnapshot(this.snaps, spec, name, data);
  }

  /** Every disk at one instant with dirty bitmaps: fleecing while it runs (the guest keeps running), its images when stopped. */
  openBlockBackup(spec: InstanceSpec, req: BlockBackupRequest, log: (line: string) => void): Promise<BlockBackupSession> {
    return openVmBlockBackup({ qemu: this.qemu, exec: this.hostExec, live: (s) => this.live(s), frozen: (s, instant) => this.guestAgent.frozen(s, instant, log) }, spec, req, log);
  }

  async console(ref: InstanceRef): Promise<ConsoleHandle> {
    const runDir = resolve(ref.hostIds.runDir);
    if ((await this.qemu.pid(runDir)) === undefined) throw conflict(`instance ${ref.name} has no running console`);
    return { kind: 'serial', relay: this.qemu.serial(runDir) };
  }

  /** A connection to the VM's VNC server on RUNDIR/vnc.sock (QEMU's -vnc unix:, no password: only the daemon reaches it). */
  async openVnc(ref: InstanceRef): Promise<Duplex> {
    const runDir = resolve(ref.hostIds.runDir);
    if ((await this.qemu.pid(runDir)) === undefined) throw conflict(`instance ${ref.name} is not running: its VGA console opens once it runs`);
    const sock = connect(runPaths(runDir).vnc);
    await new Promise<void>((ok, fail) => {
      sock.once('connect', ok);
      sock.once('error', (e) => fail(conflict(`instance ${ref.name}: its VNC server does not answer (${e.message})`)));
    });
    return sock;
  }

  /** Live: the ISO `path` in the running VM's CD-ROM drive, or none (media-ops.ts); Conflict when it does not run. */
  async changeMedia(ref: InstanceRef, path: string | null): Promise<void> {
    const runDir = resolve(ref.hostIds.runDir);
    if ((await this.qemu.pid(runDir)) === undefined) throw conflict(`instance ${ref.name} is not running`);
    await changeMedium(await this.qemu.qmp(runDir), path);
  }

  /** The serial log (the relay writes it; the rotated part continues it), also after the VM stopped. */
  consoleLog(ref: InstanceRef, bytes: number): string {
    return serialLogTail(runPaths(resolve(ref.hostIds.runDir)).serialLog, bytes).toString('utf8');
  }

  async exec(ref: InstanceRef): Promise<never> {
    throw conflict(`${ref.name} is a VM: ${QEMU_CAPABILITIES.execHint}`);
  }

  execExitCode(_ref: InstanceRef, code: number): number {
    return code;
  }

  watch(cb: (ev: DriverEvent) => void): () => void {
    return this.watcher.subscribe(cb);
  }

  /** Daemon exit: drop the QMP connections and relays; the VMs keep running. */
  close(): void {
    this.watcher.close();
    this.qemu.close();
  }

  /** guest-shutdown through the agent, when the guest has one (stop's second way, after ACPI). */
  private async agentShutdown(ref: InstanceRef): Promise<void> {
    const path = await this.guestAgent.socketOf(ref);
    if (!path) throw conflict(`VM ${ref.name} has no guest agent`);
    await agentShutdown(path, 'powerdown', { timeoutMs: 5000 });
  }

  private async live(ref: InstanceRef): Promise<boolean> {
    return (await this.qemu.pid(ref.hostIds.runDir)) !== undefined;
  }

  /** Run a call that pauses/resumes/stops the VM itself: what QEMU reports meanwhile is that call's result. */
  private async busy<T>(ref: InstanceRef, fn: () => Promise<T>): Promise<T> {
    const w: WatchedVm | undefined = this.watcher.get(resolve(ref.hostIds.runDir));
    if (w) w.busy++;
    try {
      return await fn();
    } finally {
      if (w) w.busy--;
    }
  }
}

/** The registry's DriverFactory: unavailable when no QEMU binary is installed. */
export async function createQemuInstanceDriver(ports: QemuPorts, opts: QemuFactoryOptions): Promise<QemuInstanceDriver | { unavailable: string }> {
  if (!onPath(DEFAULT_QEMU_BINARY)) return { unavailable: `${DEFAULT_QEMU_BINARY} is not installed` };
  return new QemuInstanceDriver(ports, { qemuUser: opts.qemuUser, accelerator: opts.accelerator, ...(opts.qemuBinaries ? { binaries: opts.qemuBinaries } : {}), qemu: { exec: ports.exec, logger: ports.log, ...(opts.qemuBinaries?.x86_64 ? { binary: opts.qemuBinaries.x86_64 } : {}) } });
}

function onPath(binary: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, binary)));
}
