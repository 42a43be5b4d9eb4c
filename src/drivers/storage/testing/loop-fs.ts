// Scratch filesystems for storage tests and benchmarks (root only): a file made into a loop
// device, formatted (xfs with reflink, btrfs, ext4) and mounted under a per-run temp directory;
// or a plain temp directory. cleanup() unmounts, detaches and removes everything it made.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostExec } from '../../../host/exec.js';

/** A scratch place for pools. */
export interface ScratchFs {
  /** A directory on the filesystem (the mount point, or a temp dir). */
  dir: string;
  fsType: 'xfs' | 'btrfs' | 'ext4' | 'host';
  /** Undo everything (idempotent). */
  cleanup(): Promise<void>;
}

/** mkfs argv for a filesystem type (pure). */
export function mkfsArgv(fsType: 'xfs' | 'btrfs' | 'ext4', image: string): string[] {
  if (fsType === 'xfs') return ['mkfs.xfs', '-q', '-f', '-m', 'reflink=1', image];
  if (fsType === 'btrfs') return ['mkfs.btrfs', '-q', '-f', image];
  return ['mkfs.ext4', '-q', '-F', image];
}

/** A temp directory on the host's own filesystem, named with prefix. */
export async function makeTempDir(prefix: string): Promise<ScratchFs> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  return { dir, fsType: 'host', cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A fresh filesystem of sizeBytes on a loop device, mounted; names carry prefix. */
export async function makeLoopFs(exec: HostExec, fsType: 'xfs' | 'btrfs' | 'ext4', sizeBytes: number, prefix: string): Promise<ScratchFs> {
  const work = await mkdtemp(join(tmpdir(), `${prefix}-${fsType}-`));
  const image = join(work, 'fs.img');
  const dir = join(work, 'mnt');
  let device = '';
  let mounted = false;
  const cleanup = async () => {
    if (mounted) {
      // Busy right after heavy I/O now and then: retry, then detach lazily as the last resort.
      for (let i = 0; i < 10 && mounted; i++) {
        const r = await exec.run(['umount', dir], { allowFailure: true });
        if (r.code === 0) mounted = false;
        else await new Promise((res) => setTimeout(res, 200));
      }
      if (mounted) await exec.run(['umount', '-l', dir], { allowFailure: true });
      mounted = false;
    }
    if (device) await exec.run(['losetup', '-d', device], { allowFailure: true });
    device = '';
    await rm(work, { recursive: true, force: true });
  };
  try {
    await exec.run(['truncate', '-s', String(sizeBytes), image]);
    await exec.run(mkfsArgv(fsType, image), { timeoutMs: 120_000 });
    device = (await exec.run(['losetup', '--find', '--show', image])).stdout.trim();
    await mkdir(dir);
    await exec.run(['mount', '-t', fsType, device, dir]);
    mounted = true;
    return { dir, fsType, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
