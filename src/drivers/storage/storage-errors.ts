import type { HostExec } from '../../host/exec.js';
import { HostCommandError, NimboError, conflict } from '../../lib/errors.js';
import { infoArgv, isLockError } from './qemu-img.js';
import type { VolumeFormat } from './types.js';

/** Whether an error means the filesystem (or a quota) is full. */
export function isOutOfSpace(e: unknown): boolean {
  if (e instanceof HostCommandError) return /No space left on device|ENOSPC|Disk quota exceeded/i.test(e.stderr);
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * Make a failure clear for the user: a full pool says so (keeping the host command's argv and
 * stderr as detail), an image locked by a running VM becomes Conflict; others pass unchanged.
 */
export function explainFailure(e: unknown, pool: string, action: string): unknown {
  if (e instanceof HostCommandError && isLockError(e.stderr)) {
    return new NimboError('Conflict', `cannot finish ${action}: the volume is in use by a running VM (image lock); stop it or use QMP`, e.detail, e);
  }
  if (!isOutOfSpace(e)) return e;
  const detail = e instanceof NimboError ? e.detail : { error: String(e) };
  return new NimboError('HostCommandFailed', `pool "${pool}" ran out of space while ${action}; nothing was kept`, detail, e);
}

/**
 * argv that fails with a lock error while a VM writes the file (QEMU's OFD image locks, pure).
 * qcow2: qemu-img info (qcow2 metadata reads need a consistent image). raw: info opens raw files
 * without I/O and takes no lock, so qemu-io opens it read-write and only prints its info.
 */
export function lockProbeArgv(file: string, format: VolumeFormat): string[] {
  return format === 'qcow2' ? infoArgv(file, 'qcow2') : ['qemu-io', '-f', 'raw', '-c', 'info', file];
}

/** Conflict when a running VM holds the image lock of a block volume file. */
export async function assertNotInUse(exec: HostExec, file: string, format: VolumeFormat, what: string): Promise<void> {
  const res = await exec.run(lockProbeArgv(file, format), { allowFailure: true });
  if (res.code !== 0 && isLockError(res.stderr)) {
    throw conflict(`${what} is in use by a running VM (its image is locked); stop the VM or detach the volume first`);
  }
}
