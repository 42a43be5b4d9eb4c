// qemu-nbd serving a stopped VM's image read-only on a unix socket, for the length of one backup.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { spawnArgv, type ChildProcess } from '../../../host/spawn.js';
import { NimboError } from '../../../lib/errors.js';

/** A running qemu-nbd; stop() kills it and removes its socket. */
export interface QemuNbdServer {
  socket: string;
  stop(): Promise<void>;
}

/** argv of a read-only qemu-nbd for one image, exporting `bitmap` as qemu:dirty-bitmap:BITMAP when given. */
export function qemuNbdArgv(image: string, format: 'qcow2' | 'raw', socket: string, bitmap?: string): string[] {
  // setpriv --pdeathsig: a daemon killed mid-backup takes its qemu-nbd along (it would hold the image and block the VM's start).
  // The page cache stays on (no --cache=none): O_DIRECT fails on tmpfs, and a backup reads each block once anyway.
  const argv = ['setpriv', '--pdeathsig', 'KILL', '--', 'qemu-nbd', '--read-only', '--persistent', '--shared=8', `--socket=${socket}`, `--format=${format}`];
  if (bitmap) argv.push(`--bitmap=${bitmap}`);
  // `--` keeps an image path from ever becoming an option.
  argv.push('--', image);
  return argv;
}

/** Start qemu-nbd and wait until its socket exists (a failure to start reports qemu-nbd's stderr). */
export async function startQemuNbd(image: string, format: 'qcow2' | 'raw', socket: string, bitmap?: string, timeoutMs = 15_000): Promise<QemuNbdServer> {
  await rm(socket, { force: true });
  const argv = qemuNbdArgv(image, format, socket, bitmap);
  const child: ChildProcess = spawnArgv(argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString('utf8');
  });
  let exited: string | undefined;
  const gone = new Promise<void>((resolve) => {
    child.on('error', (e) => {
      exited = e.message;
      resolve();
    });
    child.on('exit', (code, sig) => {
      exited ??= `exited with ${code ?? sig}`;
      resolve();
    });
  });
  const stop = async (): Promise<void> => {
    if (exited === undefined) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    }
    await rm(socket, { force: true });
  };
  for (const t0 = Date.now(); !existsSync(socket); await new Promise((r) => setTimeout(r, 20))) {
    if (exited !== undefined || Date.now() - t0 > timeoutMs) {
      await stop();
      throw new NimboError('HostCommandFailed', `qemu-nbd for ${image} did not start (${exited ?? `no socket after ${timeoutMs} ms`}): ${stderr.trim()}`, { argv });
    }
  }
  return { socket, stop };
}
