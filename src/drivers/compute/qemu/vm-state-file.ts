// A VM's device + RAM state saved to a file and restored from it with QMP migrate over unix sockets
// (QEMU 7.2 has no `file:` URI): on save QEMU connects to a socket the daemon listens on and the daemon
// writes the stream to the file; on restore QEMU (`-incoming defer`) reads the file from an fd it inherited.
// https://www.qemu.org/docs/master/devel/migration.html
import { createWriteStream } from 'node:fs';
import { chmod, chown, open, rm, stat, type FileHandle } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { NimboError } from '../../../lib/errors.js';
import type { QmpClient } from './qmp.js';

/** How long a save or restore of the state may take (TCG guests of a few hundred MiB: seconds). */
export const STATE_TIMEOUT_MS = 120_000;
/** The migration bandwidth cap while saving (QEMU's default, 32 MiB/s, would make a 512 MiB guest take 16 s). */
const SAVE_BANDWIDTH = 64 * 1024 ** 3;

/** What query-migrate says. */
interface MigrateInfo {
  status?: string;
  'error-desc'?: string;
}

/** Polls query-migrate until `completed`; throws on failed/cancelled or after timeoutMs. */
export async function waitMigration(qmp: QmpClient, what: string, timeoutMs = STATE_TIMEOUT_MS): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const info = await qmp.execute<MigrateInfo>('query-migrate');
    if (info.status === 'completed') return;
    if (info.status === 'failed' || info.status === 'cancelled') {
      throw new NimboError('Internal', `${what} failed: ${info['error-desc'] ?? info.status}`);
    }
    if (Date.now() > until) throw new NimboError('Internal', `${what} did not finish in ${timeoutMs / 1000} s (status ${info.status ?? 'none'})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Writes the (paused) VM's state to `stateFile` (mode 0600): the daemon listens on a socket in runDir that the
 * VM's QEMU (group `gid`) may connect to, and QMP `migrate` sends the state there. Returns the file's size.
 */
export async function saveVmState(qmp: QmpClient, runDir: string, stateFile: string, gid: number | undefined, timeoutMs = STATE_TIMEOUT_MS): Promise<number> {
  const sock = join(runDir, `save-${randomBytes(4).toString('hex')}.sock`);
  let written: Promise<void> | undefined;
  const server = createServer({ allowHalfOpen: false });
  const received = new Promise<void>((resolve, reject) => {
    server.once('connection', (c: Socket) => {
      server.close(); // one stream only
      written = pipeline(c, createWriteStream(stateFile, { mode: 0o600 }));
      written.then(resolve, reject);
    });
    server.once('error', reject);
  });
  received.catch(() => undefined);
  await new Promise<void>((resolve, reject) => server.listen(sock, resolve).once('error', reject));
  try {
    // QEMU runs as the VM's own uid, in the run dir's group: it may connect, nobody else may.
    if (gid !== undefined) await chown(sock, process.getuid?.() ?? 0, gid);
    await chmod(sock, 0o660);
    await qmp.execute('migrate-set-parameters', { 'max-bandwidth': SAVE_BANDWIDTH });
    await qmp.execute('migrate', { uri: `unix:${sock}` });
    await waitMigration(qmp, 'saving the VM state', timeoutMs);
    await Promise.race([received, new Promise((_, rej) => setTimeout(() => rej(new NimboError('Internal', 'the VM state stream did not end')), 10_000))]);
    return (await stat(stateFile)).size;
  } catch (e) {
    await qmp.execute('migrate_cancel').catch(() => undefined);
    await rm(stateFile, { force: true });
    throw e;
  } finally {
    server.close();
    await rm(sock, { force: true });
  }
}

/** The fd number a warm-started QEMU gets its saved state on (the first after stdin, stdout, stderr). */
export const INCOMING_FD = 3;

/** The migrate-incoming URI that reads the state from inherited fd `fd` (pure). */
export const incomingFdUri = (fd: number = INCOMING_FD): string => {
  if (!Number.isInteger(fd) || fd < 3) throw new NimboError('Internal', `invalid incoming fd ${fd}`);
  return `fd:${fd}`;
};

/**
 * Restores a saved state into a QEMU started with `-incoming defer` (and -S: it stays paused) that inherited the
 * state file, opened by the daemon, as fd `fd` (see openStateFile): QEMU reads it at disk speed, though the file
 * stays root's and 0600. The caller then sends `cont`.
 */
export async function loadVmState(qmp: QmpClient, fd: number = INCOMING_FD, timeoutMs = STATE_TIMEOUT_MS): Promise<void> {
  await qmp.execute('migrate-incoming', { uri: incomingFdUri(fd) });
  await waitMigration(qmp, 'restoring the VM state', timeoutMs);
}

/** Opens a saved state for a QEMU to inherit (read-only; the caller closes it once QEMU started). */
export async function openStateFile(stateFile: string): Promise<FileHandle> {
  try {
    return await open(stateFile, 'r');
  } catch (e) {
    throw new NimboError('NotFound', `the saved VM state ${stateFile} cannot be opened: ${(e as Error).message}`);
  }
}
