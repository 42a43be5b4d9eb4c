import { chmodSync, closeSync, openSync } from 'node:fs';

/** Mode of a file only the daemon reads: state.db (and its -wal/-shm), logs, tokens. */
export const PRIVATE_FILE_MODE = 0o600;
/** Mode of a directory only the daemon enters. */
export const PRIVATE_DIR_MODE = 0o700;
/** Mode of a directory other users may traverse by exact path (but never list). */
export const TRAVERSE_DIR_MODE = 0o711;

/** Create `file` if absent with PRIVATE_FILE_MODE, and set that mode if it exists (a log or database from an older version). */
export function ensurePrivateFile(file: string): void {
  closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
  chmodSync(file, PRIVATE_FILE_MODE);
}
