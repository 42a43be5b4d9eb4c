import { basename, dirname } from 'node:path';
import type { HostExec } from '../../../host/exec.js';
import { NimboError, conflict } from '../../../lib/errors.js';
import type { NetFs } from '../host-fs.js';
import { dnsmasqPaths } from './dnsmasq-config.js';

/** Options of DnsmasqControl. */
export interface DnsmasqControlOptions {
  exec: HostExec;
  fs: NetFs;
  /** The dnsmasq program (default "dnsmasq", found on PATH). */
  binary?: string;
  /** How long stop() waits after SIGTERM before SIGKILL (default 5 s). */
  stopTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** True when a /proc/PID/cmdline (NUL-separated) is dnsmasq started with exactly this config file. */
export function isOurDnsmasq(cmdline: string, confPath: string): boolean {
  const argv = cmdline.split('\0').filter((a) => a !== '');
  return argv.length > 0 && basename(argv[0]!) === 'dnsmasq' && argv.includes(`--conf-file=${confPath}`);
}

/**
 * Throw Conflict unless every directory from / down to `stateDir` is searchable (o+x) by others:
 * dnsmasq drops root for "nobody" and only then reads its hosts files (at start and on SIGHUP),
 * so an unreachable directory would silently leave every guest without a lease.
 */
export async function assertReachableByDnsmasq(fs: NetFs, stateDir: string): Promise<void> {
  for (let dir = stateDir; ; dir = dirname(dir)) {
    const mode = await fs.mode(dir);
    if (mode !== null && (mode & 0o001) === 0) {
      throw conflict(`dnsmasq (running as nobody) cannot read ${stateDir}: directory ${dir} has mode ${mode.toString(8)}; make it searchable by others (chmod o+x) or use another state directory`);
    }
    if (dir === dirname(dir)) return;
  }
}

/**
 * Starts, reloads and stops the dnsmasq instance of one network, found through its pid file.
 * A pid is trusted only when /proc/PID/cmdline shows dnsmasq with our --conf-file, so a stale
 * pid file can never make us signal an unrelated process.
 */
export class DnsmasqControl {
  private readonly exec: HostExec;
  private readonly fs: NetFs;
  private readonly binary: string;
  private readonly stopTimeoutMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(opts: DnsmasqControlOptions) {
    this.exec = opts.exec;
    this.fs = opts.fs;
    this.binary = opts.binary ?? 'dnsmasq';
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 5000;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** The pid of this network's running dnsmasq, or null (verified through /proc/PID/cmdline). */
  async pid(stateDir: string): Promise<number | null> {
    const p = dnsmasqPaths(stateDir);
    const text = (await this.fs.readText(p.pid))?.trim();
    if (!text || !/^[1-9][0-9]*$/.test(text)) return null;
    const pid = Number(text);
    const cmdline = await this.fs.readText(`/proc/${pid}/cmdline`);
    return cmdline !== null && isOurDnsmasq(cmdline, p.conf) ? pid : null;
  }

  /** True when this network's dnsmasq is running. */
  async isRunning(stateDir: string): Promise<boolean> {
    return (await this.pid(stateDir)) !== null;
  }

  /** Start dnsmasq (it daemonizes and writes its pid file); no-op when already running. */
  async start(stateDir: string): Promise<void> {
    if (await this.isRunning(stateDir)) return;
    const p = dnsmasqPaths(stateDir);
    // dnsmasq's parent exits only once the daemon is set up, with a non-zero code on a bad config or bind error.
    await this.exec.run([this.binary, `--conf-file=${p.conf}`]);
    for (let i = 0; i < 50; i++) {
      if (await this.isRunning(stateDir)) return;
      await this.sleep(100);
    }
    throw new NimboError('Internal', `dnsmasq for ${stateDir} exited 0 but no running process was found via ${p.pid}`);
  }

  /** Make dnsmasq re-read its hosts files (SIGHUP); false when it is not running. */
  async reload(stateDir: string): Promise<boolean> {
    const pid = await this.pid(stateDir);
    return pid !== null && this.fs.kill(pid, 'SIGHUP');
  }

  /** Stop dnsmasq (SIGTERM, then SIGKILL after the timeout) and remove its pid file; no-op when not running. */
  async stop(stateDir: string): Promise<void> {
    const pid = await this.pid(stateDir);
    if (pid !== null && this.fs.kill(pid, 'SIGTERM')) {
      const rounds = Math.max(1, Math.ceil(this.stopTimeoutMs / 50));
      let gone = false;
      for (let i = 0; i < rounds && !gone; i++) {
        await this.sleep(50);
        gone = await this.exited(pid);
      }
      if (!gone) {
        this.fs.kill(pid, 'SIGKILL');
        for (let i = 0; i < 40 && !(await this.exited(pid)); i++) await this.sleep(50);
      }
    }
    await this.fs.remove(dnsmasqPaths(stateDir).pid);
  }

  /**
   * True once the process has released its sockets: /proc/PID/stat is gone or shows a zombie.
   * (An exiting process loses its cmdline before it closes its files, so cmdline is not enough:
   * a restart would race with the old sockets and fail with "Address already in use".)
   */
  private async exited(pid: number): Promise<boolean> {
    const stat = await this.fs.readText(`/proc/${pid}/stat`);
    if (stat === null) return true;
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  }
}
