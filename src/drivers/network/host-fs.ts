import { chmod, mkdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';
import type { HostExec } from '../../host/exec.js';

// The file and process operations the network drivers need besides HostExec. Kept behind an
// interface so unit tests use MemoryNetFs; move to src/host/ once a shared files adapter exists.

/** Files, procfs and signals as the network drivers use them. */
export interface NetFs {
  /** The file's text, or null when it does not exist. */
  readText(path: string): Promise<string | null>;
  /** Write a file atomically (temp file + rename) with the given mode. */
  writeText(path: string, data: string, mode?: number): Promise<void>;
  /** Write in place (for /proc/sys files, which cannot be renamed over). */
  writeInPlace(path: string, data: string): Promise<void>;
  /** Remove a file; no error when absent. */
  remove(path: string): Promise<void>;
  /** Create a directory (and parents) and set its mode. */
  mkdirp(path: string, mode: number): Promise<void>;
  /** Remove a directory if it is empty; no error when absent or not empty. */
  rmdirIfEmpty(path: string): Promise<void>;
  /** The permission bits of a path (st_mode & 0o7777), or null when it does not exist. */
  mode(path: string): Promise<number | null>;
  /** Send a signal; false when no such process exists. */
  kill(pid: number, signal: NodeJS.Signals | 0): boolean;
}

/** The real NetFs on this host. */
export class RealNetFs implements NetFs {
  async readText(path: string): Promise<string | null> {
    try {
      return await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ESRCH') return null;
      throw e;
    }
  }

  async writeText(path: string, data: string, mode = 0o644): Promise<void> {
    const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
    await writeFile(tmp, data, { mode });
    try {
      await chmod(tmp, mode); // writeFile's mode is filtered by the umask
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async writeInPlace(path: string, data: string): Promise<void> {
    await writeFile(path, data);
  }

  async remove(path: string): Promise<void> {
    await rm(path, { force: true });
  }

  async mkdirp(path: string, mode: number): Promise<void> {
    await mkdir(path, { recursive: true, mode });
    await chmod(path, mode);
  }

  async rmdirIfEmpty(path: string): Promise<void> {
    try {
      await rmdir(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
    }
  }

  async mode(path: string): Promise<number | null> {
    try {
      return (await stat(path)).mode & 0o7777;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  kill(pid: number, signal: NodeJS.Signals | 0): boolean {
    try {
      process.kill(pid, signal);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
      throw e;
    }
  }
}

/**
 * A RealNetFs whose /proc/sys/net files are those of another network namespace: they are read and
 * written by commands run through `exec` (e.g. a NetnsExec), since /proc/sys/net always shows the
 * namespace of the process that opens it. Everything else is this process's files.
 */
export class NamespacedNetFs extends RealNetFs {
  constructor(private readonly exec: HostExec) {
    super();
  }

  override async readText(path: string): Promise<string | null> {
    if (!path.startsWith('/proc/sys/net/')) return super.readText(path);
    const res = await this.exec.run(['cat', path], { allowFailure: true });
    return res.code === 0 ? res.stdout : null;
  }

  override async writeInPlace(path: string, data: string): Promise<void> {
    if (!path.startsWith('/proc/sys/net/')) return super.writeInPlace(path, data);
    await this.exec.run(['tee', path], { input: data });
  }
}
