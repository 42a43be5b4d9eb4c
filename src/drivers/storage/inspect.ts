import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { HostExec } from '../../host/exec.js';
import { NimboError, conflict, invalid } from '../../lib/errors.js';
import { infoArgv, isLockError, parseInfo, type ImgInfo } from './qemu-img.js';
import type { VolumeFormat } from './types.js';

/** A checked outside file (import source or image): absolute path, size on disk, qemu-img info. */
export interface SourceFile {
  path: string;
  info: ImgInfo;
  allocatedBytes: number;
}

/**
 * Check that `file` is a self-contained qcow2 or raw image of the claimed format: no backing
 * or external data file (they would let an image read other files of this host), not
 * encrypted, not empty. A qcow2 file claimed to be raw is refused rather than copied blindly.
 */
export async function inspectSource(exec: HostExec, file: string, format: VolumeFormat): Promise<SourceFile> {
  const path = resolve(file); // absolute: never taken for an option or a protocol
  const st = await stat(path).catch(() => null);
  if (!st) throw invalid(`file ${path} does not exist`);
  if (!st.isFile()) throw invalid(`${path} is not a regular file`);
  const res = await exec.run(infoArgv(path, format), { allowFailure: true });
  if (res.code !== 0) {
    if (isLockError(res.stderr)) throw conflict(`${path} is in use by another process (image lock)`);
    throw invalid(`${path} is not a readable ${format} image: ${res.stderr.trim().split('\n').at(-1) ?? ''}`);
  }
  let info: ImgInfo;
  try {
    info = parseInfo(res.stdout);
  } catch (e) {
    throw new NimboError('InvalidArgument', `${path}: unexpected qemu-img info output`, undefined, e);
  }
  if (format === 'raw') {
    // Probing is only used to compare with the claim, never to open the file.
    const probe = await exec.run(infoArgv(path), { allowFailure: true });
    const probed = probe.code === 0 ? parseInfo(probe.stdout).format : 'raw';
    if (probed !== 'raw') throw invalid(`${path} is a ${probed} image, not raw: give its real format`);
  }
  if (info.backingFile) throw invalid(`${path} has a backing file (${info.backingFile}); use a standalone image (qemu-img convert)`);
  if (info.dataFile) throw invalid(`${path} uses an external data file; use a standalone image`);
  if (info.encrypted) throw invalid(`${path} is encrypted; use an unencrypted image`);
  if (!(info.virtualSize > 0)) throw invalid(`${path} is empty`);
  return { path, info, allocatedBytes: st.blocks * 512 };
}
