// What the QEMU driver saw happen to its VMs without being asked, from the QMP events of the one
// cached connection per VM (QEMU serves a single QMP client, so events ride on the command
// connection): a guest that powered itself off, a QEMU that died, a pause QEMU made by itself.
import type { Logger } from '../../../lib/log.js';
import type { DriverEvent } from '../instance-driver.js';
import { livePid, waitForExit, type ProcOptions } from './qemu-process.js';
import type { QmpClient, QmpEvent } from './qmp.js';

/** How long a closed QMP connection may precede the QEMU process's exit (QEMU closes it as it exits). */
const EXIT_WAIT_MS = 3000;

/** What the driver knows about one VM it watches (started by it, or adopted after a daemon restart). */
export interface WatchedVm {
  uuid: string;
  name: string;
  runDir: string;
  pid?: number;
  /** The QMP connection whose events count (the newest; an older one's close is no news). */
  client?: QmpClient;
  /** From the last STOP/RESUME event (or query-status at connect); undefined: not known yet. */
  paused?: boolean;
  /** The guest asked to power off (SHUTDOWN with guest: true): its exit is requested. */
  guestShutdown: boolean;
  /** The driver is starting, stopping or killing it: its exit and pauses are reported by that call. */
  busy: number;
}

/** What the watcher needs from the driver. */
export interface VmWatcherHost {
  log: Logger;
  proc?: ProcOptions;
  /** Connect QMP again to a VM whose connection dropped while it still runs. */
  reconnect(runDir: string): Promise<unknown>;
  /** Release what an exited VM left behind (serial relay, sockets, pidfile). */
  cleanup(runDir: string): Promise<void>;
  exitWaitMs?: number;
}

/** Follows the VMs' QMP connections and turns their events into DriverEvents. */
export class VmWatcher {
  private readonly vms = new Map<string, WatchedVm>();
  private readonly listeners = new Set<(ev: DriverEvent) => void>();
  private closed = false;

  constructor(private readonly host: VmWatcherHost) {}

  /** The watched VM of a run dir. */
  get(runDir: string): WatchedVm | undefined {
    return this.vms.get(runDir);
  }

  /** Start watching a VM (replaces what was known about an earlier run). */
  track(runDir: string, vm: { uuid: string; name: string }): WatchedVm {
    const w: WatchedVm = { uuid: vm.uuid, name: vm.name, runDir, guestShutdown: false, busy: 0 };
    this.vms.set(runDir, w);
    return w;
  }

  /** Stop watching (only `w`, when given: a newer run of the same VM stays watched). */
  forget(runDir: string, w?: WatchedVm): void {
    if (w === undefined || this.vms.get(runDir) === w) this.vms.delete(runDir);
  }

  /** Subscribe to events; returns the unsubscribe function. */
  subscribe(cb: (ev: DriverEvent) => void): () => void {
    this.listeners.add(cb);
    return () => void this.listeners.delete(cb);
  }

  /** QemuDriver's onClient hook: every new QMP connection of any VM. */
  bind(runDir: string, client: QmpClient): void {
    const w = this.vms.get(runDir);
    if (w) w.client = client;
    client.on('event', (ev) => this.onEvent(runDir, client, ev));
    for (const ev of client.takeEarlyEvents()) this.onEvent(runDir, client, ev);
    client.on('close', () => {
      this.onClose(runDir, client).catch((e: unknown) => this.host.log.warn({ runDir, err: String(e) }, 'qemu exit handling failed'));
    });
  }

  /** Stop watching everything (daemon exit: the VMs keep running). */
  close(): void {
    this.closed = true;
    this.vms.clear();
    this.listeners.clear();
  }

  private emit(ev: DriverEvent): void {
    for (const cb of this.listeners) {
      try {
        cb(ev);
      } catch (e) {
        this.host.log.warn({ err: String(e) }, 'driver event listener failed');
      }
    }
  }

  private onEvent(runDir: string, client: QmpClient, ev: QmpEvent): void {
    const w = this.vms.get(runDir);
    if (!w || w.client !== client) return;
    if (ev.event === 'SHUTDOWN') {
      // guest: true = the guest powered off (ACPI, halt); false = a host signal or QMP quit.
      if (ev.data?.guest === true) w.guestShutdown = true;
    } else if (ev.event === 'STOP' || ev.event === 'RESUME') {
      const paused = ev.event === 'STOP';
      const changed = w.paused !== paused;
      w.paused = paused;
      // Pauses the driver makes (pause, resume, snapshots, the start's `cont`) are its caller's news.
      if (changed && w.busy === 0) this.emit({ type: paused ? 'paused' : 'resumed', uuid: w.uuid });
    }
  }

  /** The connection closed: QEMU exited (an event unless the driver stopped it), or it still runs (connect again). */
  private async onClose(runDir: string, client: QmpClient): Promise<void> {
    const w = this.vms.get(runDir);
    if (this.closed || !w || w.client !== client) return;
    const gone = w.pid === undefined
      ? (await livePid(runDir, this.host.proc)) === undefined
      : await waitForExit(w.pid, runDir, this.host.exitWaitMs ?? EXIT_WAIT_MS, this.host.proc);
    if (this.closed || this.vms.get(runDir) !== w || w.client !== client) return; // a stop or a new start took over
    if (!gone) {
      w.client = undefined;
      await this.host.reconnect(runDir).catch((e: unknown) => this.host.log.warn({ vm: w.name, err: String(e) }, 'qmp connection lost; reconnecting failed'));
      return;
    }
    if (w.busy > 0) return; // the driver's own stop/kill/start reports this exit
    this.vms.delete(runDir);
    await this.host.cleanup(runDir).catch(() => undefined);
    const requested = w.guestShutdown;
    this.host.log.info({ vm: w.name, uuid: w.uuid, requested }, requested ? 'guest powered off' : 'qemu exited unexpectedly');
    this.emit({ type: 'exited', uuid: w.uuid, exitCode: null, requested });
  }
}
