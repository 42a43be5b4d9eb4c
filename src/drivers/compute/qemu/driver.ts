import { chmod, chown, mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { conflict, NimboError } from '../../../lib/errors.js';
import { silentLogger, type Logger } from '../../../lib/log.js';
import type { HostExec } from '../../../host/exec.js';
import type { ComputeDriver, RuntimeState, VmSpec } from '../types.js';
import { renderQemuArgv } from './argv.js';
import { livePid, removeStaleFiles, signalPid, waitForExit, type ProcOptions } from './qemu-process.js';
import { QmpClient } from './qmp.js';
import { runPaths } from './run-paths.js';
import { SerialRelay } from './serial-relay.js';
import { archProfile, qemuBinaryFor, type QemuBinaries } from './arch.js';
import { ensureNvram } from './nvram.js';
import { INCOMING_FD, loadVmState, openStateFile } from './vm-state-file.js';

/** Options of QemuDriver. */
export interface QemuDriverOptions {
  exec: HostExec;
  binary?: string;
  /** Emulators per guest architecture instead of arch.ts's (x86_64: `binary` wins when both are given). */
  binaries?: QemuBinaries;
  logger?: Logger;
  /** Connect/greeting timeout of QMP, and the default per-command timeout (default 10 s). */
  qmpTimeoutMs?: number;
  /** How long QEMU may take to daemonize (default 60 s). */
  startTimeoutMs?: number;
  /**
   * Own one SerialRelay per VM (see serial()). start() then boots with -S and attaches the
   * relay before `cont`, so the console log has the guest's output from its first byte.
   * Default false: without it, output before someone attaches is dropped by QEMU.
   */
  attachSerial?: boolean;
  /** For tests: where /proc lives. */
  proc?: ProcOptions;
  /** Called once for each new QMP connection (before any caller uses it), e.g. to follow its events. */
  onClient?: (runDir: string, client: QmpClient) => void;
}

/** A VM's run dir: root's, readable (not writable) by the VM's own group, nobody else's. */
export const RUN_DIR_MODE = 0o750;
/** A VM's writable disk, handed to its QEMU uid: no one else may open it. */
export const DISK_MODE = 0o600;

/** How long a hard stop waits for QMP `quit`, then for SIGKILL to take effect. */
const QUIT_WAIT_MS = 3000;
const KILL_WAIT_MS = 5000;

/** The QEMU hypervisor driver: daemonized qemu-system-x86_64 processes driven over QMP. */
export class QemuDriver implements ComputeDriver {
  private readonly exec: HostExec;
  private readonly log: Logger;
  private readonly qmpTimeoutMs: number;
  /** One QMP connection per VM: QEMU serves a single client per QMP socket. */
  private readonly clients = new Map<string, Promise<QmpClient>>();
  private readonly relays = new Map<string, SerialRelay>();

  constructor(private readonly opts: QemuDriverOptions) {
    this.exec = opts.exec;
    this.log = opts.logger ?? silentLogger();
    this.qmpTimeoutMs = opts.qmpTimeoutMs ?? 10_000;
  }

  async start(spec: VmSpec): Promise<void> {
    const runDir = resolve(spec.runDir);
    // A warm start (saved state restored over -incoming) stays paused until the state is in, too.
    const paused = this.opts.attachSerial === true || spec.incoming !== undefined;
    const binary = (spec.arch ?? 'x86_64') === 'x86_64' ? (this.opts.binary ?? this.opts.binaries?.x86_64) : qemuBinaryFor(spec.arch, this.opts.binaries);
    const argv = renderQemuArgv({ ...spec, runDir }, { binary, paused }); // validates the spec first
    const running = await livePid(runDir, this.opts.proc);
    if (running !== undefined) throw conflict(`VM ${spec.name} is already running (pid ${running})`);
    this.dropClient(runDir);
    await mkdir(runDir, { recursive: true, mode: RUN_DIR_MODE });
    await removeStaleFiles(runDir);
    const ids = spec.runAs !== undefined ? await this.userIds(spec.runAs) : undefined;
    // The daemon's (root's), group-readable by this VM's QEMU only: QEMU creates its sockets, pidfile
    // and log here as root before -runas drops, and needs nothing here afterwards (its sockets are open).
    await chown(runDir, process.getuid?.() ?? 0, ids?.gid ?? process.getgid?.() ?? 0);
    await chmod(runDir, RUN_DIR_MODE); // mkdir's mode is filtered by the umask, and an older run dir may be the QEMU user's
    if (ids) {
      // QEMU reopens writable disks after dropping to runAs (hot-plug, snapshots): they are that uid's alone.
      for (const d of spec.disks) {
        if (d.readOnly === true) continue;
        await chown(d.path, ids.uid, ids.gid);
        await chmod(d.path, DISK_MODE);
      }
    }
    const uefi = archProfile(spec.arch).uefi;
    // The VM's own UEFI variables: made from the firmware's template on its first boot, kept afterwards.
    if (spec.uefiVars !== undefined && uefi) await ensureNvram(spec.uefiVars, uefi.varsTemplate.path, ids);
    this.log.info({ vm: spec.name, runDir, accelerator: spec.accelerator, arch: spec.arch ?? 'x86_64', argv }, 'starting qemu');
    // A warm start's saved state: opened here (root's, 0600) and inherited by QEMU as fd 3, read at disk speed.
    const state = spec.incoming ? await openStateFile(spec.incoming.stateFile) : undefined;
    try {
      await this.exec.run(argv, { timeoutMs: this.opts.startTimeoutMs ?? 60_000, ...(state ? { fds: [state.fd] } : {}) });
    } finally {
      await state?.close();
    }
    try {
      const qmp = await this.qmp(runDir);
      if (paused) {
        if (this.opts.attachSerial === true) await this.attachRelay(runDir, spec.name, qmp);
        if (spec.incoming) {
          const t0 = Date.now();
          await loadVmState(qmp, INCOMING_FD);
          this.log.info({ vm: spec.name, ms: Date.now() - t0 }, 'saved state restored');
        }
        await qmp.execute('cont');
      }
    } catch (e) {
      this.log.error({ vm: spec.name, err: (e as Error).message }, 'qemu started but could not be run over QMP; killing it');
      await this.kill(runDir).catch(() => {});
      throw e;
    }
    this.log.info({ vm: spec.name, pid: await livePid(runDir, this.opts.proc) }, 'qemu running');
  }

  /**
   * ACPI power-down; with `guest`, a guest still running after a third of the timeout is asked once more
   * that other way (the guest agent's shutdown: a guest that ignores ACPI); a hard stop at the end.
   */
  async shutdown(runDir: string, timeoutMs: number, guest?: () => Promise<void>): Promise<void> {
    runDir = resolve(runDir);
    const pid = await livePid(runDir, this.opts.proc);
    if (pid === undefined) return this.cleanup(runDir);
    try {
      await (await this.qmp(runDir)).execute('system_powerdown');
    } catch (e) {
      this.log.warn({ runDir, err: (e as Error).message }, 'system_powerdown failed');
    }
    const end = Date.now() + timeoutMs;
    if (guest) {
      if (await waitForExit(pid, runDir, Math.floor(timeoutMs / 3), this.opts.proc)) return this.cleanup(runDir);
      this.log.info({ runDir, pid }, 'guest ignored the ACPI power button; asking its guest agent to shut down');
      await guest().catch((e: Error) => this.log.info({ runDir, err: e.message }, 'guest agent shutdown not possible'));
    }
    if (await waitForExit(pid, runDir, Math.max(0, end - Date.now()), this.opts.proc)) return this.cleanup(runDir);
    this.log.info({ runDir, pid, timeoutMs }, 'guest did not power off in time; stopping qemu');
    await this.hardStop(runDir, pid, true);
  }

  async kill(runDir: string): Promise<void> {
    runDir = resolve(runDir);
    const pid = await livePid(runDir, this.opts.proc);
    if (pid === undefined) return this.cleanup(runDir);
    await this.hardStop(runDir, pid, false);
  }

  async pause(runDir: string): Promise<void> {
    await this.running(runDir).then((c) => c.execute('stop'));
  }

  async resume(runDir: string): Promise<void> {
    await this.running(runDir).then((c) => c.execute('cont'));
  }

  async state(runDir: string): Promise<RuntimeState> {
    runDir = resolve(runDir);
    if ((await livePid(runDir, this.opts.proc)) === undefined) return 'stopped';
    try {
      const st = await (await this.qmp(runDir)).execute<{ status: string; running: boolean }>('query-status');
      return st.running ? 'running' : 'paused';
    } catch (e) {
      // QEMU may have exited between the pid check and the query.
      if ((await livePid(runDir, this.opts.proc)) === undefined) return 'stopped';
      throw e;
    }
  }

  /** The (shared, cached) QMP connection of a running VM, for features beyond this interface. */
  async qmp(runDir: string): Promise<QmpClient> {
    runDir = resolve(runDir);
    const cached = this.clients.get(runDir);
    if (cached) {
      const c = await cached.catch(() => undefined);
      if (c && !c.closed) return c;
      if (this.clients.get(runDir) === cached) this.clients.delete(runDir);
    }
    const p = QmpClient.connect(runPaths(runDir).qmp, { timeoutMs: this.qmpTimeoutMs, retry: true, commandTimeoutMs: this.qmpTimeoutMs });
    this.clients.set(runDir, p);
    try {
      const c = await p;
      c.on('close', () => {
        if (this.clients.get(runDir) === p) this.clients.delete(runDir);
      });
      c.on('event', (ev) => this.log.debug({ runDir, event: ev.event, data: ev.data }, 'qmp event'));
      this.opts.onClient?.(runDir, c);
      return c;
    } catch (e) {
      if (this.clients.get(runDir) === p) this.clients.delete(runDir);
      throw e;
    }
  }

  /**
   * The VM's serial console relay, owned by this driver (attached at start() when
   * attachSerial is set; created on first use otherwise, e.g. for a re-adopted VM).
   * Closing it detaches; the next call makes a new one.
   */
  serial(runDir: string): SerialRelay {
    runDir = resolve(runDir);
    const cur = this.relays.get(runDir);
    if (cur && !cur.isClosed) return cur;
    const relay = SerialRelay.forRunDir(runDir).start();
    this.relays.set(runDir, relay);
    return relay;
  }

  /** The live QEMU pid of a VM, or undefined when it is not running. */
  pid(runDir: string): Promise<number | undefined> {
    return livePid(resolve(runDir), this.opts.proc);
  }

  /** Close every cached QMP connection and serial relay (daemon exit); the VMs keep running. */
  close(): void {
    for (const runDir of [...this.clients.keys()]) this.dropClient(runDir);
    for (const relay of this.relays.values()) void relay.close();
    this.relays.clear();
  }

  private async attachRelay(runDir: string, vm: string, qmp: QmpClient): Promise<void> {
    try {
      const old = this.relays.get(runDir);
      if (old) await old.close(); // from an earlier run: reattach cleanly
      await this.serial(runDir).waitConnected(5000);
      // Our connect() can return before QEMU's main loop accepted it; output sent before that is lost.
      for (let i = 0; i < 100; i++) {
        const devs = await qmp.execute<{ label: string; filename: string }[]>('query-chardev');
        if (!devs.find((d) => d.label === 'serial0')?.filename.startsWith('disconnected:')) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error('QEMU did not accept the serial connection');
    } catch (e) {
      this.log.warn({ vm, err: (e as Error).message }, 'serial console not attached before boot');
    }
  }

  private async running(runDir: string): Promise<QmpClient> {
    runDir = resolve(runDir);
    if ((await livePid(runDir, this.opts.proc)) === undefined) throw conflict(`VM in ${runDir} is not running`);
    return this.qmp(runDir);
  }

  /** QMP quit (QEMU flushes and exits) when asked, then SIGKILL; waits until the process is gone. */
  private async hardStop(runDir: string, pid: number, tryQuit: boolean): Promise<void> {
    if (tryQuit) {
      try {
        const c = await this.qmp(runDir);
        await c.execute('quit', undefined, { timeoutMs: QUIT_WAIT_MS }).catch(() => {}); // the reply may race the exit
        if (await waitForExit(pid, runDir, QUIT_WAIT_MS, this.opts.proc)) return this.cleanup(runDir);
      } catch (e) {
        this.log.warn({ runDir, err: (e as Error).message }, 'qmp quit failed; sending SIGKILL');
      }
    }
    signalPid(pid, 'SIGKILL');
    if (!(await waitForExit(pid, runDir, KILL_WAIT_MS, this.opts.proc))) {
      throw new NimboError('Internal', `QEMU pid ${pid} of ${runDir} did not exit after SIGKILL`, { runDir, pid });
    }
    await this.cleanup(runDir);
  }

  private async cleanup(runDir: string): Promise<void> {
    this.dropClient(runDir);
    const relay = this.relays.get(runDir);
    this.relays.delete(runDir);
    await relay?.close(); // QEMU is gone: stop reconnecting (serial.log stays)
    await removeStaleFiles(runDir);
  }

  private dropClient(runDir: string): void {
    const p = this.clients.get(runDir);
    this.clients.delete(runDir);
    p?.then((c) => c.close()).catch(() => {});
  }

  private async userIds(user: string): Promise<{ uid: number; gid: number }> {
    const numeric = /^([0-9]+):([0-9]+)$/.exec(user); // a per-VM id: no passwd entry
    if (numeric) return { uid: Number(numeric[1]), gid: Number(numeric[2]) };
    const uid = Number.parseInt((await this.exec.run(['id', '-u', '--', user])).stdout.trim(), 10);
    const gid = Number.parseInt((await this.exec.run(['id', '-g', '--', user])).stdout.trim(), 10);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new NimboError('Internal', `cannot resolve user ${user}`);
    return { uid, gid };
  }
}
