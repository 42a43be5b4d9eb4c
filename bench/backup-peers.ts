/**
 * The peers of bench/backup: restic (Debian 0.14, repository v2, --compression auto) and borg (Debian
 * 1.2), both encrypted, each backing up one raw disk file, then again after it changed, then restoring it.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runArgv, type ExecOptions } from '../src/host/exec.js';

const TIMEOUT = 30 * 60_000;

/** What one backup tool did in one step. */
export interface Step {
  seconds: number;
  /** Repository bytes (du -sb) after the step; restores: the restored file. */
  bytes: number;
}

/** The side-by-side interface of a backup tool in the bench. */
export interface BackupTool {
  name: string;
  /** Its settings, printed once. */
  settings: string;
  /** Repository directory (its size is the repository size). */
  repo: string;
  init(): Promise<void>;
  /** Back up the disk file (the first call is the full backup, the next the incremental). */
  backup(label: 'full' | 'incremental'): Promise<Step>;
  /** Restore the latest backup as a file; returns its path. */
  restore(dir: string): Promise<{ seconds: number; file: string }>;
}

/** Apparent size of a directory tree in bytes (`du -sb`). */
export async function duBytes(dir: string): Promise<number> {
  const r = await runArgv(['du', '-sb', dir]);
  return Number(r.stdout.split('\t')[0]);
}

/** Seconds that `fn` and an fsync of `dir`'s filesystem take together (so a step's writes are on disk). */
export async function timedSync(dir: string, fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  await runArgv(['sync', '-f', dir]);
  return (performance.now() - t0) / 1000;
}

/** restic 0.14 on `disk`: repository format 2 (compression auto), AES-256 + Poly1305 (restic always encrypts). */
export function restic(work: string, disk: string, passFile: string): BackupTool {
  const repo = join(work, 'restic-repo');
  const env = { ...process.env, LC_ALL: 'C', RESTIC_REPOSITORY: repo, RESTIC_PASSWORD_FILE: passFile, RESTIC_CACHE_DIR: join(work, 'restic-cache') };
  const run = (args: string[], o: ExecOptions = {}) => runArgv(['restic', ...args], { env, timeoutMs: TIMEOUT, ...o });
  return {
    name: 'restic',
    settings: 'restic: repository v2, --compression auto (zstd), AES-256-CTR + Poly1305-AES (always on), SHA-256 ids, content-defined chunks (512 KiB..8 MiB, ~1 MiB)',
    repo,
    async init() {
      await run(['init', '--repository-version', '2']);
      const cfg = JSON.parse((await run(['cat', 'config'])).stdout) as { version: number };
      if (cfg.version !== 2) throw new Error(`restic made a version ${cfg.version} repository; compression needs 2`);
    },
    async backup(label) {
      const seconds = await timedSync(repo, () => run(['backup', '--quiet', '--host', 'bench', '--tag', label, '--compression', 'auto', disk]));
      return { seconds, bytes: await duBytes(repo) };
    },
    async restore(dir) {
      await mkdir(dir, { recursive: true });
      // restic 0.14 restores the full path under --target and has no --sparse
      const seconds = await timedSync(dir, () => run(['restore', 'latest', '--quiet', '--host', 'bench', '--target', dir]));
      return { seconds, file: join(dir, disk) };
    },
  };
}

/** borg 1.2 on `disk`: repokey encryption (AES-256-CTR + HMAC-SHA256), zstd level 3, `chunker` params. */
export function borg(work: string, disk: string, passphrase: string, chunker: string, compression: string): BackupTool {
  const repo = join(work, 'borg-repo');
  const env = {
    ...process.env, LC_ALL: 'C', BORG_REPO: repo, BORG_PASSPHRASE: passphrase, BORG_BASE_DIR: join(work, 'borg-home'),
    BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
  };
  const run = (args: string[], o: ExecOptions = {}) => runArgv(['borg', ...args], { env, timeoutMs: TIMEOUT, ...o });
  return {
    name: 'borg',
    settings: `borg: --encryption repokey (AES-256-CTR + HMAC-SHA256), --compression ${compression}, --chunker-params ${chunker}, extract --sparse`,
    repo,
    async init() {
      await run(['init', '--encryption', 'repokey']);
    },
    async backup(label) {
      const seconds = await timedSync(work, () => run(['create', '--compression', compression, '--chunker-params', chunker, `::${label}`, disk]));
      return { seconds, bytes: await duBytes(repo) };
    },
    async restore(dir) {
      await mkdir(dir, { recursive: true });
      // borg extracts the stored path (without its leading /) under the working directory
      const seconds = await timedSync(dir, () => run(['extract', '--sparse', '::incremental'], { cwd: dir }));
      return { seconds, file: join(dir, disk.replace(/^\/+/, '')) };
    },
  };
}

/** Removes a directory tree, ignoring that it is already gone. */
export async function rmTree(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
