import type { NetFs } from './host-fs.js';

/** An in-memory NetFs for unit tests: files in a map, processes as a set of live pids, signals recorded. */
export class MemoryNetFs implements NetFs {
  readonly files = new Map<string, { data: string; mode?: number }>();
  readonly dirs = new Map<string, number>();
  readonly live = new Set<number>();
  readonly signals: string[] = [];
  /** Called on every kill(); lets a test make a process die on SIGTERM. */
  onKill?: (pid: number, signal: NodeJS.Signals | 0) => void;

  async readText(path: string): Promise<string | null> {
    return this.files.get(path)?.data ?? null;
  }
  async writeText(path: string, data: string, mode = 0o644): Promise<void> {
    this.files.set(path, { data, mode });
  }
  async writeInPlace(path: string, data: string): Promise<void> {
    this.files.set(path, { data });
  }
  async remove(path: string): Promise<void> {
    this.files.delete(path);
  }
  async mkdirp(path: string, mode: number): Promise<void> {
    this.dirs.set(path, mode);
  }
  async rmdirIfEmpty(path: string): Promise<void> {
    if (![...this.files.keys()].some((f) => f.startsWith(`${path}/`))) this.dirs.delete(path);
  }
  async mode(path: string): Promise<number | null> {
    return this.dirs.get(path) ?? this.files.get(path)?.mode ?? (path === '/' || [...this.dirs.keys()].some((d) => d.startsWith(`${path}/`)) ? 0o755 : null);
  }
  kill(pid: number, signal: NodeJS.Signals | 0): boolean {
    if (!this.live.has(pid)) return false;
    if (signal !== 0) this.signals.push(`${signal} ${pid}`);
    this.onKill?.(pid, signal);
    return true;
  }
}
