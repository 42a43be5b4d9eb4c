// A VM image disk → a directory tree, once per image, for container roots (lowerdir).
//
// Why loop + mount + cp and not `debugfs -R 'rdump / DEST'`: rdump (e2fsprogs 1.47) skips
// device nodes, FIFOs and sockets, turns hard links into separate copies and reads ext* only.
// The kernel's own filesystem driver gives an exact tree (hard links, special files, sparse
// files) of any filesystem the host kernel knows (ext2/3/4, XFS, btrfs). It needs root and a
// loop device, which a nimbo host has anyway. The loop device is read-only and the mount is
// `ro,nosuid,nodev,noexec` plus `noload` (ext*) / `norecovery` (XFS), so nothing is ever
// written to the image, not even a journal replay. qcow2 is first converted to a sparse raw
// file (no kernel NBD here; `qemu-img convert` is fast and needs nothing but qemu-utils).
// Extended attributes are NOT copied (see makeContainerRoot: a uid shift drops
// security.capability anyway, and an image must not smuggle trusted.overlay.* xattrs into a
// lower layer).
import { mkdir, mkdtemp, rename, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { HostExec } from '../../host/exec.js';
import { invalid } from '../../lib/errors.js';

/** The image disk to read (a BuiltImage fits). */
export interface ImageDisk {
  disk: string;
  format: 'qcow2' | 'raw';
}

/** An extracted image tree. */
export interface ImageTree {
  /** The root directory of the image's files: the overlay lowerdir of its containers. */
  root: string;
  /** True when the tree was already there (no work done). */
  reused: boolean;
  /** Milliseconds this call spent (0 when reused). */
  ms: number;
}

/** Where a region of the raw disk holds the root filesystem. */
export interface RootRegion {
  offsetBytes: number;
  /** 0: to the end of the disk (a filesystem without partition table). */
  sizeBytes: number;
}

/** The default cache place of an image's tree: next to its disk (removed with the image dir). */
export function imageTreeDir(image: { disk: string }): string {
  return join(dirname(resolve(image.disk)), 'rootfs.tree');
}

/** The tree's root inside a destDir given to extractImageTree. */
export function imageTreeRoot(destDir: string): string {
  return join(resolve(destDir), 'root');
}

const SKIP_DOS = new Set(['0', '5', 'f', '85', '82', 'ef', 'ee']); // empty, extended, swap, EFI, GPT protective
const SKIP_GPT = new Set([
  'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', // EFI system
  '21686148-6449-6E6F-744E-656564454649', // BIOS boot
  '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F', // Linux swap
]);
const GPT_ROOT_X86_64 = '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709';

/**
 * Picks the root filesystem from `sfdisk --json` output (parsed), or the whole disk when
 * there is no partition table (null/undefined). MBR: the largest data partition (debian-12
 * has one, from 1 MiB). GPT: the x86-64 root partition if marked, else the largest that is
 * not EFI/BIOS boot/swap. Pure; throws InvalidArgument when no partition qualifies.
 */
export function pickRootRegion(table: unknown): RootRegion {
  const pt = (table as { partitiontable?: Record<string, unknown> } | null | undefined)?.partitiontable;
  if (!pt) return { offsetBytes: 0, sizeBytes: 0 };
  const sector = typeof pt.sectorsize === 'number' && pt.sectorsize > 0 ? pt.sectorsize : 512;
  const parts = (Array.isArray(pt.partitions) ? pt.partitions : []) as Array<Record<string, unknown>>;
  const gpt = pt.label === 'gpt';
  const data = parts.filter((p) => {
    const type = String(p.type ?? '').toUpperCase();
    if (typeof p.start !== 'number' || typeof p.size !== 'number' || p.size <= 0) return false;
    return gpt ? !SKIP_GPT.has(type) : !SKIP_DOS.has(type.toLowerCase());
  });
  const root = data.find((p) => gpt && String(p.type).toUpperCase() === GPT_ROOT_X86_64) ??
    [...data].sort((a, b) => (b.size as number) - (a.size as number))[0];
  if (!root) throw invalid('image disk has a partition table but no data partition');
  return { offsetBytes: (root.start as number) * sector, sizeBytes: (root.size as number) * sector };
}

/** Read-only mount options for a filesystem type: never replay a journal into the image. */
export function readOnlyMountOptions(fstype: string): string {
  const base = 'ro,nosuid,nodev,noexec';
  if (/^ext[234]$/.test(fstype)) return `${base},noload`;
  if (fstype === 'xfs') return `${base},norecovery,nouuid`;
  return base;
}

const isDir = async (p: string) => (await stat(p).catch(() => null))?.isDirectory() ?? false;

/**
 * Turns a VM image disk into a directory tree at `imageTreeRoot(destDir)` (= destDir/root),
 * once: a later call finds it and returns at once (`reused`). destDir is mode 0700, so host
 * users cannot reach the image's setuid binaries. Works on a whole-disk filesystem (tiny:
 * ext4, no partition table) and on MBR/GPT disks (debian-12: MBR, ext4 from 1 MiB). Builds in
 * a scratch dir next to destDir and renames it into place, so a destDir is always complete;
 * concurrent calls are safe (the loser's copy is dropped). The loop device, mount and temp
 * raw file are always released. Root only. Never modifies the image.
 */
export async function extractImageTree(exec: HostExec, image: ImageDisk, destDir: string): Promise<ImageTree> {
  const dest = resolve(destDir);
  if (await isDir(imageTreeRoot(dest))) return { root: imageTreeRoot(dest), reused: true, ms: 0 };
  const t0 = Date.now();
  await mkdir(dirname(dest), { recursive: true });
  const scratch = await mkdtemp(`${dest}.extract-`); // 0700
  const mnt = join(scratch, 'mnt');
  let loop = '';
  let mounted = false;
  try {
    let raw = resolve(image.disk);
    if (image.format === 'qcow2') {
      raw = join(scratch, 'disk.raw');
      await exec.run(['qemu-img', 'convert', '-f', 'qcow2', '-O', 'raw', resolve(image.disk), raw], { timeoutMs: 30 * 60_000 });
    }
    const pt = await exec.run(['sfdisk', '--json', raw], { allowFailure: true });
    let table: unknown = null;
    if (pt.code === 0 && pt.stdout.trim()) {
      try {
        table = JSON.parse(pt.stdout);
      } catch {
        table = null;
      }
    }
    const region = pickRootRegion(table);
    const probe = await exec.run(['blkid', '-p', '-O', String(region.offsetBytes), '-o', 'value', '-s', 'TYPE', raw],
      { allowFailure: true });
    const fstype = probe.stdout.trim();
    if (probe.code !== 0 || !/^[a-z0-9_]+$/.test(fstype)) {
      throw invalid(`no filesystem found in ${image.disk} at offset ${region.offsetBytes}`);
    }
    loop = (await exec.run(['losetup', '--find', '--show', '--read-only', '--offset', String(region.offsetBytes),
      ...(region.sizeBytes ? ['--sizelimit', String(region.sizeBytes)] : []), raw])).stdout.trim();
    await mkdir(mnt);
    await exec.run(['mount', '-t', fstype, '-o', readOnlyMountOptions(fstype), loop, mnt]);
    mounted = true;
    const root = join(scratch, 'root');
    await mkdir(root);
    // -d: symlinks as symlinks; -R copies device nodes/FIFOs as such; links: hard links kept.
    await exec.run(['cp', '-dR', '--preserve=mode,ownership,timestamps,links', '--sparse=auto', `${mnt}/.`, root],
      { timeoutMs: 30 * 60_000 });
  } catch (e) {
    await release(exec, mnt, mounted, loop);
    await rm(scratch, { recursive: true, force: true });
    throw e;
  }
  await release(exec, mnt, mounted, loop);
  await rm(join(scratch, 'disk.raw'), { force: true });
  await rmdir(mnt);
  try {
    await rename(scratch, dest);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    await rm(scratch, { recursive: true, force: true });
    if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !(await isDir(imageTreeRoot(dest)))) throw e;
    return { root: imageTreeRoot(dest), reused: true, ms: Date.now() - t0 };
  }
  return { root: imageTreeRoot(dest), reused: false, ms: Date.now() - t0 };
}

/** Unmounts and detaches; a failed plain umount falls back to a lazy one so the loop frees. */
async function release(exec: HostExec, mnt: string, mounted: boolean, loop: string): Promise<void> {
  if (mounted) {
    const r = await exec.run(['umount', mnt], { allowFailure: true });
    if (r.code !== 0) await exec.run(['umount', '-l', mnt], { allowFailure: true });
  }
  if (loop) await exec.run(['losetup', '-d', loop], { allowFailure: true });
}
