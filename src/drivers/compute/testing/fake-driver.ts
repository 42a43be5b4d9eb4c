// An in-memory InstanceDriver for core unit tests: keeps its "host objects" in a FakeHost, journals
// every call, fails on demand at a chosen step, and emits driver events for crashes and exits.
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import type { ChildProcess } from '../../../host/spawn.js';
import { conflict, invalid, NimboError } from '../../../lib/errors.js';
import type { IoLimits } from '../../../shared/storage-types.js';
import type { Nic } from '../../../shared/api-types.js';
import type {
  ConsoleHandle,
  ConsoleRelay,
  DriverCapabilities,
  DriverEvent,
  InstanceDriver,
  InstanceRef,
  InstanceSpec,
  InstanceStatus,
  PlanInput,
  PrepareInput,
  SnapshotData,
  VolumeSnapshotPort,
  VolumeSpec,
} from '../instance-driver.js';
import { FakeHost } from './fake-host.js';
import { FakeDisks } from './fake-disks.js';
import type { BlockBackupRequest, BlockBackupSession } from '../../../shared/backup-source.js';
import { QEMU_CAPABILITIES } from '../qemu/capabilities.js';
import { RUNC_CAPABILITIES } from '../runc/plan.js';

/** Capabilities of the qemu driver: the fake's VM preset. */
export const VM_LIKE: DriverCapabilities = QEMU_CAPABILITIES;

/** Capabilities of the runc driver: the fake's container preset. */
export const CONTAINER_LIKE: DriverCapabilities = RUNC_CAPABILITIES;

/** One journaled call: the method and the instance it was about (when it has one). */
export interface JournalEntry {
  method: string;
  uuid?: string;
  detail?: unknown;
}

/** The fake's driverConfig: the id plan() allocated. */
export interface FakeConfig {
  id: number;
  kind: 'vm-uid' | 'id-range';
  app?: PlanInput['app'];
}

/** Options of a fake driver. */
export interface FakeDriverOptions {
  name?: string;
  preset?: 'vm' | 'container';
  capabilities?: Partial<DriverCapabilities>;
  host?: FakeHost;
  /** What exec() prints and exits with (default: `echo` prints its arguments, anything else prints nothing, exit 0). */
  execResult?: (args: string[]) => { stdout?: string; stderr?: string; code?: number };
}

/** An InstanceDriver that touches nothing but its FakeHost. */
export class FakeInstanceDriver implements InstanceDriver {
  readonly name: string;
  readonly host: FakeHost;
  readonly journal: JournalEntry[] = [];
  private caps: DriverCapabilities;
  private listeners = new Set<(ev: DriverEvent) => void>();
  private failures = new Map<string, { nth: number; error: Error }>();
  private calls = new Map<string, number>();
  private relays = new Map<string, FakeRelay>();
  /** VM-like fakes: their disks' bytes and dirty bitmaps (backups read them; tests write them). */
  readonly disks = new FakeDisks();

  constructor(private opts: FakeDriverOptions = {}) {
    const base = opts.preset === 'container' ? CONTAINER_LIKE : VM_LIKE;
    this.caps = { ...base, ...opts.capabilities };
    this.name = opts.name ?? (opts.preset === 'container' ? 'fake-ct' : 'fake-vm');
    this.host = opts.host ?? new FakeHost();
  }

  /** Make the nth call of `method` from now (default the next one) throw `error` (default a HostCommandFailed-like error). */
  failAt(method: keyof InstanceDriver, nth = 1, error?: Error): this {
    this.failures.set(method, { nth: (this.calls.get(method) ?? 0) + nth, error: error ?? new NimboError('HostCommandFailed', `injected failure in ${method}`) });
    return this;
  }

  /** The process of `uuid` ends without being asked (crash, kill, guest poweroff): emits an 'exited' event. */
  crash(uuid: string, ev: { exitCode?: number | null; requested?: boolean } = {}): void {
    this.host.processes.delete(uuid);
    this.host.exitCodes.set(uuid, ev.exitCode ?? null);
    this.emit({ type: 'exited', uuid, exitCode: ev.exitCode ?? null, requested: ev.requested ?? false });
  }

  /** The kernel killed `n` more processes of `uuid` for its memory limit. */
  oom(uuid: string, n = 1): void {
    this.host.oomKills.set(uuid, (this.host.oomKills.get(uuid) ?? 0) + n);
  }

  /** Send an event to every watcher (tests may fake any event). */
  emit(ev: DriverEvent): void {
    for (const cb of this.listeners) cb(ev);
  }

  /** Journal entries of one method. */
  callsOf(method: string): JournalEntry[] {
    return this.journal.filter((j) => j.method === method);
  }

  private step(method: string, uuid?: string, detail?: unknown): void {
    const n = (this.calls.get(method) ?? 0) + 1;
    this.calls.set(method, n);
    this.journal.push({ method, ...(uuid ? { uuid } : {}), ...(detail !== undefined ? { detail } : {}) });
    const f = this.failures.get(method);
    if (f && f.nth === n) {
      this.failures.delete(method);
      throw f.error;
    }
  }

  private running(ref: InstanceRef, what: string) {
    const p = this.host.processes.get(ref.uuid);
    if (!p) throw conflict(`instance ${ref.name} is not running: cannot ${what}`);
    return p;
  }

  capabilities(): DriverCapabilities {
    return { ...this.caps };
  }

  async plan(req: PlanInput): Promise<FakeConfig> {
    this.step('plan', req.uuid);
    if (req.app && !this.caps.app) throw invalid('application containers need a container driver');
    if (!this.caps.processLimits && (req.pids !== undefined || req.cpuWeight !== undefined || req.swap !== undefined || req.diskRates))
      throw invalid('pids, cpu weight, swap and disk rates are for containers only');
    const kind = this.caps.kind === 'vm' ? 'vm-uid' : 'id-range';
    return { id: await req.allocateId(kind), kind, ...(req.app ? { app: req.app } : {}) };
  }

  async release(ref: InstanceRef, ids: Pick<PlanInput, 'releaseId'>): Promise<void> {
    this.step('release', ref.uuid);
    const cfg = ref.driverConfig as FakeConfig | undefined;
    if (cfg?.id !== undefined) await ids.releaseId(cfg.kind, cfg.id);
  }

  async prepare(spec: InstanceSpec, input: PrepareInput): Promise<void> {
    this.step('prepare', spec.uuid);
    this.host.dirs.add(spec.hostIds.instanceDir);
    this.host.seeds.set(spec.uuid, { ...input.seed });
  }

  async removeRoot(ref: InstanceRef, root: { path: string }): Promise<void> {
    this.step('removeRoot', ref.uuid, root);
  }

  async start(spec: InstanceSpec): Promise<void> {
    this.step('start', spec.uuid);
    if (this.host.processes.has(spec.uuid)) return;
    for (const nic of spec.nics) this.host.taps.add(nic.tap);
    this.host.dirs.add(spec.hostIds.runDir);
    for (const v of spec.volumes) this.host.volumes.set(volKey(v), spec.uuid);
    this.host.processes.set(spec.uuid, {
      pid: this.host.pid(),
      state: 'running',
      nics: new Set(spec.nics.map((n) => n.name)),
      volumes: new Set(spec.volumes.map(volKey)),
      startedAt: Date.now(),
    });
    this.host.exitCodes.delete(spec.uuid);
  }

  async stop(ref: InstanceRef, opts: { timeoutMs: number; force: boolean }): Promise<void> {
    this.step('stop', ref.uuid, opts);
    if (!this.host.processes.has(ref.uuid)) return;
    this.host.processes.delete(ref.uuid);
    const code = opts.force ? 137 : 0;
    this.host.exitCodes.set(ref.uuid, code);
    this.relays.get(ref.uuid)?.close();
    this.relays.delete(ref.uuid);
    // Like the real drivers: the process's end is seen by the event source too; we asked for it.
    this.emit({ type: 'exited', uuid: ref.uuid, exitCode: code, requested: true });
  }

  async pause(ref: InstanceRef): Promise<void> {
    this.step('pause', ref.uuid);
    this.running(ref, 'pause').state = 'paused';
  }

  async resume(ref: InstanceRef): Promise<void> {
    this.step('resume', ref.uuid);
    this.running(ref, 'resume').state = 'running';
  }

  async status(ref: InstanceRef, opts?: { usage?: boolean }): Promise<InstanceStatus> {
    this.step('status', ref.uuid);
    const p = this.host.processes.get(ref.uuid);
    const kills = this.host.oomKills.get(ref.uuid);
    return {
      state: p?.state ?? 'stopped',
      pid: p?.pid ?? null,
      ...(opts?.usage && p ? { usage: { cpuSeconds: 0, memoryBytes: 1 << 20, pids: 1 } } : {}),
      ...(this.host.exitCodes.has(ref.uuid) ? { exitCode: this.host.exitCodes.get(ref.uuid) ?? null } : {}),
      ...(kills !== undefined ? { oomKills: kills } : {}),
    };
  }

  async destroy(ref: InstanceRef, nics: Nic[], _root?: { path: string }): Promise<void> {
    this.step('destroy', ref.uuid);
    this.host.processes.delete(ref.uuid);
    this.relays.get(ref.uuid)?.close();
    this.relays.delete(ref.uuid);
    for (const nic of nics) this.host.taps.delete(nic.tap);
    this.host.dirs.delete(ref.hostIds.runDir);
    this.host.dirs.delete(ref.hostIds.instanceDir);
    this.host.seeds.delete(ref.uuid);
    this.host.exitCodes.delete(ref.uuid);
    this.host.oomKills.delete(ref.uuid);
  }

  async adopt(ref: InstanceRef): Promise<void> {
    this.step('adopt', ref.uuid);
  }

  async plugNic(spec: InstanceSpec, nic: Nic, live: boolean): Promise<void> {
    this.step('plugNic', spec.uuid, { nic: nic.name, live });
    if (live) {
      const p = this.running(spec, 'plug a NIC');
      this.host.taps.add(nic.tap);
      p.nics.add(nic.name);
    } else this.host.taps.add(nic.tap);
  }

  async unplugNic(spec: InstanceSpec, nic: Nic, live: boolean): Promise<void> {
    this.step('unplugNic', spec.uuid, { nic: nic.name, live });
    const p = this.host.processes.get(spec.uuid);
    if (live && p) {
      const boot = spec.nics.some((n) => n.name === nic.name && !n.hotplug);
      if (boot && !this.caps.unplugBootNics) throw conflict(`NIC ${nic.name} was given at boot: stop instance ${spec.name} to detach it`);
      p.nics.delete(nic.name);
    }
    this.host.taps.delete(nic.tap);
  }

  async checkUnplugVolume(ref: InstanceRef, vol: VolumeSpec): Promise<void> {
    this.step('checkUnplugVolume', ref.uuid);
    if (this.host.busyVolumes.has(volKey(vol))) throw conflict(`volume ${vol.pool}/${vol.volume} is in use inside instance ${ref.name}`);
  }

  async plugVolume(spec: InstanceSpec, vol: VolumeSpec, live: boolean): Promise<{ idOwner?: number }> {
    this.step('plugVolume', spec.uuid, { volume: volKey(vol), live });
    if (this.caps.volumeMountPath && !vol.mountPath) throw invalid(`volume ${vol.pool}/${vol.volume} needs a mount path`);
    if (live) this.running(spec, 'plug a volume').volumes.add(volKey(vol));
    this.host.volumes.set(volKey(vol), spec.uuid);
    const cfg = spec.driverConfig as FakeConfig | undefined;
    return this.caps.kind === 'container' && cfg ? { idOwner: cfg.id } : {};
  }

  async unplugVolume(ref: InstanceRef, vol: VolumeSpec, live: boolean): Promise<void> {
    this.step('unplugVolume', ref.uuid, { volume: volKey(vol), live });
    if (live) this.host.processes.get(ref.uuid)?.volumes.delete(volKey(vol));
    this.host.volumes.delete(volKey(vol));
  }

  async resizeVolume(ref: InstanceRef, vol: { pool: string; volume: string } | 'root', bytes: number): Promise<void> {
    this.step('resizeVolume', ref.uuid, { vol, bytes });
    if (!this.caps.liveDiskResize) throw conflict('this driver cannot grow a disk while the instance runs');
    this.running(ref, 'resize a disk');
  }

  async resizeLive(ref: InstanceRef, want: { cpus: number; memoryBytes: number; maxCpus: number; maxMemoryBytes: number }): Promise<{ cpus: number; memoryBytes: number }> {
    this.step('resizeLive', ref.uuid, want);
    if (!this.caps.liveResize) throw conflict('this driver cannot resize a running instance');
    this.running(ref, 'resize');
    if (want.cpus > want.maxCpus || want.memoryBytes > want.maxMemoryBytes) throw invalid('past the maximum');
    return { cpus: want.cpus, memoryBytes: want.memoryBytes };
  }

  async setVolumeLimits(ref: InstanceRef, vol: { pool: string; volume: string } | 'root', limits: IoLimits): Promise<void> {
    this.step('setVolumeLimits', ref.uuid, { vol, limits });
    if (!this.caps.liveDiskResize) throw conflict('this driver cannot change disk limits while the instance runs');
    this.running(ref, 'change disk limits');
  }

  async openBlockBackup(spec: InstanceSpec, req: BlockBackupRequest): Promise<BlockBackupSession> {
    this.step('openBlockBackup', spec.uuid);
    if (this.caps.backup !== 'block') throw invalid('a container backs up its files, not disks');
    return this.disks.open(spec.uuid, req, this.host.processes.has(spec.uuid));
  }

  async snapshot(spec: InstanceSpec, req: { name: string; stateful: boolean }, vols: VolumeSnapshotPort, progress?: (pct: number, msg: string) => void): Promise<SnapshotData> {
    this.step('snapshot', spec.uuid, req);
    if (req.stateful && !this.caps.statefulSnapshots) throw invalid('stateful snapshots are for VMs only');
    const disks = [{ id: 'root', path: spec.root.path }, ...spec.volumes.map((v) => ({ id: volKey(v), path: v.path }))];
    if (this.caps.snapshots === 'pool-volumes') {
      await vols.create(spec.root.pool, spec.root.volume, req.name);
      for (const v of spec.volumes) await vols.create(v.pool, v.volume, req.name);
    }
    progress?.(100, 'done');
    const data: SnapshotData = { stateful: req.stateful, disks, ...(req.stateful ? { vmDisks: ['root'] } : {}) };
    if (this.caps.snapshots === 'disk-images') {
      const mine = this.host.snapshots.get(spec.uuid) ?? new Map<string, SnapshotData>();
      if (mine.has(req.name)) throw conflict(`snapshot ${req.name} of instance ${spec.name} already exists`);
      mine.set(req.name, data);
      this.host.snapshots.set(spec.uuid, mine);
    }
    return data;
  }

  async restoreSnapshot(spec: InstanceSpec, name: string, data: SnapshotData, vols: VolumeSnapshotPort): Promise<void> {
    this.step('restoreSnapshot', spec.uuid, { name });
    if (this.caps.snapshots === 'pool-volumes') {
      await vols.restore(spec.root.pool, spec.root.volume, name);
      for (const v of spec.volumes) await vols.restore(v.pool, v.volume, name);
    } else if (!this.host.snapshots.get(spec.uuid)?.has(name)) throw conflict(`snapshot ${name} is missing from the disks of instance ${spec.name}`);
    if (data.stateful && this.host.processes.has(spec.uuid)) this.host.processes.get(spec.uuid)!.state = 'running';
  }

  async deleteSnapshot(spec: InstanceSpec, name: string, _data: SnapshotData, vols: VolumeSnapshotPort): Promise<void> {
    this.step('deleteSnapshot', spec.uuid, { name });
    if (this.caps.snapshots === 'pool-volumes') {
      await vols.remove(spec.root.pool, spec.root.volume, name);
      for (const v of spec.volumes) await vols.remove(v.pool, v.volume, name);
    }
    const mine = this.host.snapshots.get(spec.uuid);
    mine?.delete(name);
    if (mine?.size === 0) this.host.snapshots.delete(spec.uuid);
  }

  async console(ref: InstanceRef): Promise<ConsoleHandle> {
    this.step('console', ref.uuid);
    this.running(ref, 'open its console');
    if (this.caps.console === 'pty') return { kind: 'pty', child: fakeChild('login: ', 0) };
    let relay = this.relays.get(ref.uuid);
    if (!relay) this.relays.set(ref.uuid, (relay = new FakeRelay()));
    return { kind: 'serial', relay };
  }

  consoleLog(ref: InstanceRef, bytes: number): string {
    this.step('consoleLog', ref.uuid);
    return this.relays.get(ref.uuid)?.tail(bytes).toString() ?? '';
  }

  async exec(ref: InstanceRef, args: string[], opts: { tty: boolean; rows?: number; cols?: number }): Promise<ChildProcess> {
    this.step('exec', ref.uuid, { args, tty: opts.tty });
    if (!this.caps.exec) throw conflict(`instance ${ref.name} cannot run commands: ${this.caps.execHint ?? 'not supported'}`);
    this.running(ref, 'run a command');
    this.host.execs.push({ uuid: ref.uuid, args });
    const r = this.opts.execResult?.(args) ?? (args[0] === 'echo' ? { stdout: `${args.slice(1).join(' ')}\n` } : {});
    return fakeChild(r.stdout ?? '', r.code ?? 0, r.stderr ?? '');
  }

  execExitCode(_ref: InstanceRef, code: number, _stderrTail: string): number {
    return code;
  }

  watch(cb: (ev: DriverEvent) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  close(): void {
    this.listeners.clear();
    for (const r of this.relays.values()) r.close();
    this.relays.clear();
  }
}

const volKey = (v: { pool: string; volume: string }) => `${v.pool}/${v.volume}`;

/** A console relay that echoes what is written into its log. */
export class FakeRelay implements ConsoleRelay {
  private log = Buffer.alloc(0);
  private subs = new Set<(chunk: Buffer) => void>();
  closed = false;
  onData(cb: (chunk: Buffer) => void): () => void {
    this.subs.add(cb);
    return () => this.subs.delete(cb);
  }
  write(data: Buffer | string): void {
    const b = Buffer.from(data);
    this.log = Buffer.concat([this.log, b]).subarray(-65536);
    for (const s of this.subs) s(b);
  }
  tail(bytes: number): Buffer {
    return this.log.subarray(-bytes);
  }
  close(): void {
    this.closed = true;
    this.subs.clear();
  }
}

/** A child-process lookalike that prints `stdout` and exits with `code` on the next tick. */
function fakeChild(stdout: string, code: number, stderr = ''): ChildProcess {
  const child = new EventEmitter() as unknown as ChildProcess & EventEmitter;
  const out = new PassThrough();
  const err = new PassThrough();
  Object.assign(child, { stdin: new PassThrough(), stdout: out, stderr: err, pid: undefined, exitCode: null, kill: () => true });
  setImmediate(() => {
    out.end(stdout);
    err.end(stderr);
    Object.assign(child, { exitCode: code });
    child.emit('exit', code, null);
    child.emit('close', code, null);
  });
  return child;
}
