import { chmod, mkdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

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
    const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
    await writeFile(tmp, data, { mode });
    await chmod(tmp, mode); // writeFile's mode is filtered by the umask
    await rename(tmp, path);
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
