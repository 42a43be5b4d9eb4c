// Exit events of containers, without polling processes: the exit shim of every container the
// driver starts writes <exitsDir>/<uuid>.json (a temp file renamed) when init ends, and one
// inotify watch (fs.watch) on that directory turns the rename into an `exited` event at once.
// Stops the driver was asked for are not reported (the daemon knows about them). A slow
// re-check covers a missed event and containers started by older versions, which have no
// exit file (their init's /proc entry is checked instead).
import { mkdirSync, rmSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../../lib/log.js';
import type { DriverEvent } from '../instance-driver.js';
import type { ContainerInfo } from './container-info.js';
import { initAlive, readExitCode, readInit, type StatusPaths } from './status.js';

/**
 * Whether a container that ended with `code` should stay stopped (true) or was a crash or kill to
 * be started again (false). System containers: init exiting 0, or killed by SIGINT (the kernel's
 * way of ending the init of a pid namespace that asked for poweroff or halt), is a poweroff from
 * inside; SIGHUP (reboot from inside), other codes and signals are not. Unknown (null: started
 * without an exit file) stays stopped, as before exit files. Apps: their restart policy. Pure.
 */
export function exitRequested(ct: Pick<ContainerInfo, 'app'>, code: number | null): boolean {
  const app = ct.app;
  if (!app) return code === null || code === 0 || code === 130;
  if (app.restart === 'never') return true;
  if (app.restart === 'on-failure') return code === 0;
  return false;
}

/** One container whose end is watched. */
export interface WatchedContainer {
  uuid: string;
  runtimeId: string;
  container: Pick<ContainerInfo, 'app'>;
  /** Started by an older version: no exit file will come, the re-check looks at init's /proc entry. */
  legacy?: boolean;
  /** Legacy: where an older version's shim kept the exit code (application containers only). */
  legacyExitFile?: string;
}

interface Entry extends WatchedContainer {
  emitted: boolean;
  init?: { pid: number; start?: number | string } | null;
}

/** Options of ExitWatcher. */
export interface ExitWatcherOptions {
  exitsDir: string;
  status: StatusPaths;
  log: Logger;
  /** The safety re-check's interval (default 15 s). */
  recheckMs?: number;
}

/** Turns exit files into DriverEvents for the containers it was told about. */
export class ExitWatcher {
  private readonly listeners = new Set<(ev: DriverEvent) => void>();
  private readonly entries = new Map<string, Entry>();
  /** Containers the driver was asked to stop (or delete) since their last start: their end is not an event. */
  private readonly stopping = new Set<string>();
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;

  constructor(private readonly o: ExitWatcherOptions) {}

  /** The exit file of container `uuid`. */
  exitFile(uuid: string): string {
    return join(this.o.exitsDir, `${uuid}.json`);
  }

  /** Subscribe; the directory watch and the re-check run while anyone listens. */
  subscribe(cb: (ev: DriverEvent) => void): () => void {
    this.listeners.add(cb);
    if (!this.watcher) this.open();
    this.recheck();
    return () => {
      this.listeners.delete(cb);
      if (!this.listeners.size) this.close();
    };
  }

  private open(): void {
    mkdirSync(this.o.exitsDir, { recursive: true, mode: 0o700 });
    this.watcher = watch(this.o.exitsDir, (_ev, file) => {
      const name = file ? String(file) : '';
      if (name.endsWith('.json')) this.check(name.slice(0, -'.json'.length));
    });
    this.watcher.on('error', (e) => this.o.log.warn({ err: String(e), dir: this.o.exitsDir }, 'container exit watch failed'));
    this.timer = setInterval(() => this.recheck(), this.o.recheckMs ?? 15_000);
    this.timer.unref();
  }

  /** Before a start: forget the last run's end (its file too) and any stop asked for it. */
  starting(uuid: string): void {
    this.stopping.delete(uuid);
    this.entries.delete(uuid);
    rmSync(this.exitFile(uuid), { force: true });
  }

  /** Watch a container that runs now (just started, or adopted after a daemon start). */
  add(c: WatchedContainer): void {
    this.entries.set(c.uuid, { ...c, emitted: false, ...(c.legacy ? { init: readInit(this.o.status, c.runtimeId) } : {}) });
    this.check(c.uuid); // it may have ended before the watch saw it
  }

  /** The driver is stopping or deleting it: its end is asked for, not an event. */
  expectStop(uuid: string): void {
    this.stopping.add(uuid);
  }

  /** Stop watching (deleted). */
  remove(uuid: string): void {
    this.entries.delete(uuid);
    this.stopping.delete(uuid);
  }

  /** Emit `exited` once per run when the container's exit file (or, legacy, init's death) shows it ended. */
  check(uuid: string): void {
    const e = this.entries.get(uuid);
    if (!e || e.emitted) return;
    let code: number | null;
    if (e.legacy) {
      if (e.init && initAlive(this.o.status.proc, e.init.pid, e.init.start)) return;
      code = e.legacyExitFile ? readExitCode(e.legacyExitFile) : null;
    } else {
      code = readExitCode(this.exitFile(uuid));
      if (code === null) return;
    }
    if (!this.listeners.size) return; // told once someone listens (subscribe re-checks)
    e.emitted = true;
    if (this.stopping.has(uuid)) return;
    const ev: DriverEvent = { type: 'exited', uuid, exitCode: code, requested: exitRequested(e.container, code) };
    this.o.log.info({ container: e.runtimeId, exitCode: code, requested: ev.requested }, 'container ended');
    for (const cb of this.listeners) {
      try {
        cb(ev);
      } catch (err) {
        this.o.log.warn({ err: String(err) }, 'exit event listener failed');
      }
    }
  }

  /** The safety net: look at every watched container once (a file read or a /proc read each). */
  recheck(): void {
    for (const uuid of [...this.entries.keys()]) this.check(uuid);
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
