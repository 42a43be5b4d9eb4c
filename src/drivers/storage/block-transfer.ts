// Import and export of block volumes, shared by the file-based drivers. Data is written to a
// staging path and published only when complete; a failure (a full pool included) removes it.
import { rm, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { HostExec } from '../../host/exec.js';
import { NimboError, conflict, invalid } from '../../lib/errors.js';
import { exists, publishFile, randomHex } from './fs-util.js';
import { inspectSource } from './inspect.js';
import { convertArgv } from './qemu-img.js';
import { runTransfer } from './transfer.js';
import type { TransferOptions, VolumeFormat } from './types.js';
import { MAX_VOLUME_BYTES } from './validate.js';

/** argv copying src to dst: a (reflinked where possible) sparse cp for raw to raw, else qemu-img convert. */
export function copyArgv(src: string, srcFormat: VolumeFormat, dst: string, dstFormat: VolumeFormat): string[] {
  if (srcFormat === 'raw' && dstFormat === 'raw') return ['cp', '--reflink=auto', '--sparse=always', '--', src, dst];
  return convertArgv({ src, srcFormat, dst, dstFormat });
}

/** A failure caused by the caller's abort becomes Cancelled (the partial data is already gone). */
function cancelled(e: unknown, signal: AbortSignal | undefined, what: string): unknown {
  return signal?.aborted ? new NimboError('Cancelled', `${what} cancelled; nothing was kept`, undefined, e) : e;
}

/** A staging place for a new volume's data file. */
export interface Staged {
  dataFile: string;
  publish(): Promise<void>;
  discard(): Promise<void>;
}

/** Check an import source; returns its path, virtual and allocated size. */
export async function checkImportSource(exec: HostExec, file: string, format: VolumeFormat) {
  const src = await inspectSource(exec, file, format);
  if (src.info.virtualSize > MAX_VOLUME_BYTES) throw invalid(`${src.path} is larger than the largest volume`);
  return src;
}

/** Copy a checked source into staged (converted to poolFormat) and publish it. */
export async function importInto(exec: HostExec, src: { path: string; allocatedBytes: number }, format: VolumeFormat, poolFormat: VolumeFormat, staged: Staged, opts: TransferOptions = {}): Promise<void> {
  try {
    await runTransfer(exec, {
      argv: copyArgv(src.path, format, staged.dataFile, poolFormat),
      target: staged.dataFile,
      expectedBytes: src.allocatedBytes,
      message: `importing ${format} as ${poolFormat}`,
      progress: opts.progress,
      signal: opts.signal,
    });
    await staged.publish();
  } catch (e) {
    await staged.discard();
    throw cancelled(e, opts.signal, 'import');
  }
  opts.progress?.(100, 'imported');
}

/** Export a volume file to a new file (never replacing one); a failure leaves no partial file. */
export async function exportTo(exec: HostExec, volFile: string, volFormat: VolumeFormat, file: string, format: VolumeFormat, opts: TransferOptions = {}): Promise<void> {
  const target = resolve(file);
  if (await exists(target)) throw conflict(`${target} already exists; export to a new file`);
  const dir = await stat(dirname(target)).catch(() => null);
  if (!dir?.isDirectory()) throw invalid(`directory ${dirname(target)} does not exist`);
  const tmp = `${target}.part-${randomHex(4)}`;
  try {
    await runTransfer(exec, {
      argv: copyArgv(volFile, volFormat, tmp, format),
      target: tmp,
      expectedBytes: (await stat(volFile)).blocks * 512,
      message: `exporting as ${format}`,
      progress: opts.progress,
      signal: opts.signal,
    });
    await publishFile(tmp, target, target);
  } catch (e) {
    throw cancelled(e, opts.signal, 'export');
  } finally {
    await rm(tmp, { force: true });
  }
  opts.progress?.(100, 'exported');
}
