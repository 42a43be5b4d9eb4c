import { chmod, copyFile, mkdir, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { HostExec } from '../host/exec.js';
import { notFound } from '../lib/errors.js';
import { makeWorkDir, publishImage, readCompleteImage } from './publish.js';
import { TINY_DISK_BYTES } from './sizes.js';
import {
  copyBinariesWithLibs, copyInto, findKernel, listTree, moduleLoadOrder, sharedLibs, stageModules,
} from './host-tools.js';
import { extractPvhKernel } from './kernel-pvh.js';
import { renderInitramfsInit, renderTinyRootFiles } from './tiny-scripts.js';
import { DISK_FILE, READY_MARKER, type BuildOptions, type BuiltImage } from './types.js';

/** Kernel modules the tiny initramfs loads (dependencies are added in order by modprobe). */
export const TINY_MODULES = [
  'virtio', 'virtio_ring', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci',
  'failover', 'net_failover', 'virtio_net', 'virtio_blk', 'virtio_rng', 'virtio_console', 'virtio_balloon',
  'isofs', 'ext4', 'button', 'evdev',
  // UEFI guests: /sys/firmware/efi/efivars (the TPM's tpm_crb is built into Debian's kernel).
  'efivarfs',
];

/** The kernel command line of the tiny image: root is the first virtio disk. */
export const TINY_CMDLINE = 'console=ttyS0 root=/dev/vda rw quiet';

/** Virtual size of the tiny root disk; VMs may grow it (the guest runs resize2fs at boot). */
export { TINY_DISK_BYTES };

const BUSYBOX_CANDIDATES = ['/usr/bin/busybox', '/bin/busybox'];
const DROPBEAR = ['/usr/sbin/dropbear', '/usr/bin/dropbearkey'];
/** The QEMU guest agent, copied from the host's qemu-guest-agent package with its shared libraries. */
const QEMU_GA = '/usr/sbin/qemu-ga';

/**
 * Revision of what the tiny image carries: a cached build of another revision is rebuilt
 * (2: qemu-ga on the org.qemu.guest_agent.0 port). It shows in the image's `os` line.
 */
export const TINY_REVISION = 3;
const OS_PREFIX = `nimbo tiny r${TINY_REVISION} `;
const RESIZE2FS = ['/sbin/resize2fs', '/usr/sbin/resize2fs'];

async function firstExisting(paths: string[], what: string): Promise<string> {
  for (const p of paths) if (await stat(p).catch(() => null)) return p;
  throw notFound(`${what} (looked at ${paths.join(', ')})`);
}

/** Copies busybox to root/bin/busybox (plus its libs, if it is not the static build; `foreign`: another architecture's static build, never given to ldd). */
async function installBusybox(exec: HostExec, root: string, busybox: string, foreign = false): Promise<void> {
  await copyInto(root, busybox, 'bin/busybox', 0o755);
  if (foreign) return;
  for (const l of await sharedLibs(exec, busybox)) await copyInto(root, l, l, 0o755);
}

async function buildInitramfs(exec: HostExec, work: string, kver: string, busybox: string): Promise<void> {
  await writeInitramfs(exec, work, busybox, await moduleLoadOrder(exec, kver, TINY_MODULES));
}

/**
 * Writes work/initrd.img: busybox, the tiny /init, and the given module files (loaded in that order).
 * `foreign`: busybox is another architecture's static build (nothing on the host looks inside it).
 */
export async function writeInitramfs(exec: HostExec, work: string, busybox: string, moduleFiles: string[], foreign = false): Promise<void> {
  const stage = join(work, 'initramfs');
  await mkdir(stage, { mode: 0o755 });
  await installBusybox(exec, stage, busybox, foreign);
  await writeFile(join(stage, 'init'), renderInitramfsInit(), { mode: 0o755 });
  const names = await stageModules(exec, moduleFiles, join(stage, 'lib/modules'));
  await writeFile(join(stage, 'lib/modules/order'), names.join('\n') + '\n');
  const list = await listTree(stage);
  await exec.run(['cpio', '--quiet', '-o', '-H', 'newc', '-R', '0:0', '-O', join(work, 'initrd.img')], {
    cwd: stage,
    input: list.join('\n') + '\n',
  });
  await chmod(join(work, 'initrd.img'), 0o644);
  await rm(stage, { recursive: true, force: true });
}

/** The tiny root's directories (with /tmp, /root and /root/.ssh modes) and the /var/run link. */
export async function makeRootSkeleton(root: string): Promise<void> {
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc/dropbear', 'proc', 'sys', 'dev', 'run', 'tmp',
    'mnt', 'var/log', 'home', 'root/.ssh']) {
    await mkdir(join(root, d), { recursive: true, mode: 0o755 });
  }
  await chmod(join(root, 'tmp'), 0o1777);
  await chmod(join(root, 'root'), 0o700);
  await chmod(join(root, 'root/.ssh'), 0o700);
  await symlink('/run', join(root, 'var/run'));
}

/** Links every applet `hostBusybox --list-full` names to /bin/busybox inside root (existing files are kept). */
export async function linkApplets(exec: HostExec, root: string, hostBusybox: string): Promise<void> {
  const applets = (await exec.run([hostBusybox, '--list-full'])).stdout.split('\n').map((l) => l.trim());
  for (const a of applets) {
    if (!a || a === 'bin/busybox' || a.startsWith('/') || a.includes('..')) continue;
    await mkdir(dirname(join(root, a)), { recursive: true, mode: 0o755 });
    await symlink('/bin/busybox', join(root, a)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
}

/** Writes the tiny image's scripts and /etc files (renderTinyRootFiles) into root; `console` is the serial tty. */
export async function writeTinyFiles(root: string, console?: string): Promise<void> {
  for (const [p, f] of Object.entries(renderTinyRootFiles(READY_MARKER, console))) {
    await mkdir(dirname(join(root, p)), { recursive: true, mode: 0o755 });
    await writeFile(join(root, p), f.content, { mode: f.mode });
    await chmod(join(root, p), f.mode);
  }
}

async function buildRootfs(exec: HostExec, root: string, busybox: string): Promise<void> {
  await makeRootSkeleton(root);
  await installBusybox(exec, root, busybox);
  await linkApplets(exec, root, busybox);
  const resize2fs = await firstExisting(RESIZE2FS, 'resize2fs (e2fsprogs)');
  await copyBinariesWithLibs(exec, root, [...DROPBEAR, resize2fs, QEMU_GA]);
  await writeTinyFiles(root);
}

/** Turns work/rootfs into work/disk.qcow2 (ext4 without a partition table, TINY_DISK_BYTES); removes the tree. */
export async function makeRootDisk(exec: HostExec, work: string, root: string): Promise<void> {
  const raw = join(work, 'disk.raw');
  await writeFile(raw, '');
  await truncate(raw, TINY_DISK_BYTES);
  await exec.run(['mke2fs', '-q', '-F', '-t', 'ext4', '-L', 'nimbo-root', '-m', '0', '-E', 'root_owner=0:0',
    '-d', root, raw]);
  await exec.run(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', raw, join(work, DISK_FILE)]);
  await rm(raw, { force: true });
  await rm(root, { recursive: true, force: true });
  await chmod(join(work, DISK_FILE), 0o644);
}

/**
 * Builds the tiny image from host packages only (kernel, busybox-static, dropbear-bin,
 * e2fsprogs, qemu-guest-agent): outDir gets disk.qcow2 (ext4 root, no partition table), vmlinuz, initrd.img
 * and image.json. Boots directly; reuses a complete outDir unless `force`.
 */
export async function buildTinyImage(opts: BuildOptions): Promise<BuiltImage> {
  const { exec } = opts;
  const progress = opts.progress ?? (() => {});
  const outDir = resolve(opts.outDir);
  if (!opts.force) {
    const cached = await readCompleteImage(outDir);
    if (cached && cached.name === 'tiny' && cached.os.startsWith(OS_PREFIX)) {
      progress(100, 'cached');
      return cached;
    }
  }
  const kernel = await findKernel(opts.kernelVersion);
  const busybox = await firstExisting(BUSYBOX_CANDIDATES, 'busybox (apt-get install busybox-static)');
  await firstExisting(DROPBEAR.slice(0, 1), 'dropbear (apt-get install dropbear-bin)');
  await firstExisting([QEMU_GA], 'qemu-ga (apt-get install qemu-guest-agent)');
  const work = await makeWorkDir(outDir);
  try {
    progress(5, `initramfs for kernel ${kernel.kver}`);
    await buildInitramfs(exec, work, kernel.kver, busybox);
    progress(30, 'root filesystem');
    const root = join(work, 'rootfs');
    await buildRootfs(exec, root, busybox);
    progress(50, 'ext4 root disk');
    await makeRootDisk(exec, work, root);
    await copyFile(kernel.vmlinuz, join(work, 'vmlinuz'));
    await chmod(join(work, 'vmlinuz'), 0o644);
    progress(85, 'PVH kernel');
    const pvh = await extractPvhKernel(exec, kernel.vmlinuz, join(work, 'vmlinux'));
    if (pvh) await chmod(join(work, 'vmlinux'), 0o644);
    const kernelFile = pvh ? 'vmlinux' : 'vmlinuz';
    progress(95, 'publish');
    const image: BuiltImage = {
      name: 'tiny',
      dir: outDir,
      disk: join(outDir, DISK_FILE),
      format: 'qcow2',
      virtualSizeBytes: TINY_DISK_BYTES,
      boot: {
        kind: 'direct',
        kernel: join(outDir, kernelFile),
        initrd: join(outDir, 'initrd.img'),
        cmdline: TINY_CMDLINE,
        // OVMF loads bzImages only (through fw_cfg): UEFI VMs boot the same kernel in that form.
        ...(pvh ? { efiKernel: join(outDir, 'vmlinuz') } : {}),
      },
      os: `${OS_PREFIX}(BusyBox + Dropbear + qemu-ga, Linux ${kernel.kver})`,
      readyMarker: READY_MARKER,
    };
    await publishImage(work, [DISK_FILE, 'vmlinuz', 'initrd.img', ...(pvh ? ['vmlinux'] : [])], image);
    progress(100, 'done');
    return image;
  } catch (e) {
    await rm(work, { recursive: true, force: true });
    throw e;
  }
}
