// Small file helpers for crash safety: write-and-fsync, fsync a directory, and clear errors for a full disk.
import { open } from 'node:fs/promises';
import { NimboError } from '../lib/errors.js';

/** Write `data` to a new file (fails if it exists) and fsync it before closing. */
export async function writeFileDurable(path: string, data: Buffer | string, mode = 0o644): Promise<void> {
  const fh = await open(path, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync a directory, so a rename or a new entry in it survives a crash. */
export async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The errno code of a Node fs error. */
export const errCode = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | null)?.code;

/** A write error as a clear NimboError: a full disk or quota says so. */
export function writeError(e: unknown, dir: string, what: string): NimboError {
  const code = errCode(e);
  if (e instanceof NimboError) return e;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new NimboError('Internal', `no space left on the datastore's filesystem (${dir}) while writing ${what}; earlier backups are intact`, { errno: code }, e);
  }
  return new NimboError('Internal', `writing ${what} in datastore ${dir} failed: ${(e as Error).message}`, { errno: code }, e);
}
