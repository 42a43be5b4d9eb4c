import { randomUUID } from 'node:crypto';
import { chmod, cp, mkdir, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { HostExec } from '../host/exec.js';
import { NimboError } from '../lib/errors.js';
import { makeWorkDir, publishImage, readCompleteImage } from './publish.js';
import { DEBIAN_DISK_BYTES } from './sizes.js';
import {
  pickDebianMirror, renderDebianFiles, renderFstab, renderGrubCfg, renderGrubEarlyConfig,
} from './debian12-files.js';
import { DISK_FILE, READY_MARKER, type BuildOptions, type BuiltImage, type ProgressFn } from './types.js';

/** Options of buildDebian12Image: the common ones plus the Debian mirror to use. */
export interface Debian12Options extends BuildOptions {
  /** Default: the host's apt sources, else http://deb.debian.org/debian. */
  mirror?: string;
}

/**
 * Packages added to the minbase bootstrap. qemu-guest-agent needs no `systemctl enable`: its udev rule
 * starts qemu-guest-agent.service when the org.qemu.guest_agent.0 port (every nimbo VM has it) appears.
 */
export const DEBIAN_PACKAGES = ['linux-image-amd64', 'openssh-server', 'systemd-sysv', 'udev', 'dbus', 'iproute2',
  'grub-pc-bin', 'cloud-guest-utils', 'fdisk', 'qemu-guest-agent'];

/** Virtual size of the Debian disk (MBR, one ext4 partition from 1 MiB); VMs may grow it. */
export { DEBIAN_DISK_BYTES };
const PART_OFFSET = 1024 * 1024;
const GRUB_MODULES = ['biosdisk', 'part_msdos', 'ext2', 'search', 'search_fs_uuid', 'normal', 'linux', 'configfile',
  'serial', 'terminal', 'echo', 'test'];
const CHROOT_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' };

/** The mirror from the host's apt sources (sources.list and sources.list.d/*.list|*.sources). */
export async function hostDebianMirror(): Promise<string> {
  const texts: string[] = [];
  const add = async (p: string) => texts.push(await readFile(p, 'utf8').catch(() => ''));
  await add('/etc/apt/sources.list');
  const d = '/etc/apt/sources.list.d';
  for (const f of (await readdir(d).catch(() => [] as string[])).sort()) {
    if (f.endsWith('.list') || f.endsWith('.sources')) await add(join(d, f));
  }
  return pickDebianMirror(texts);
}

/**
 * dpkg filters of the bootstrap: no manuals, docs (copyright files stay), translations or info pages
 * in the image (nothing in it reads them; less to unpack and to write into the disk). Dropped from the
 * image's dpkg config afterwards, so packages a user installs later get their docs as usual.
 */
export const DPKG_EXCLUDES = ['path-exclude=/usr/share/man/*', 'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright', 'path-exclude=/usr/share/locale/*', 'path-include=/usr/share/locale/locale.alias',
  'path-exclude=/usr/share/info/*'];

/**
 * The minbase bootstrap of bookworm with DEBIAN_PACKAGES into root: mmdebstrap (apt downloads in
 * parallel, one dpkg run), with INITRD=No so that the kernel's postinst and initramfs-tools' trigger
 * make no MODULES=most initrd (configureRootfs makes the one small initrd).
 */
export function bootstrapArgv(root: string, mirror: string): string[] {
  // The merged-usr hook lays out /usr as debootstrap does (usr-is-merged, not usrmerge and its perl);
  // force-unsafe-io: no fsync per unpacked file (the tree is written into the disk image afterwards anyway).
  return ['mmdebstrap', '--variant=minbase', '--mode=root', '--format=directory', `--include=${DEBIAN_PACKAGES.join(',')}`,
    '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr', '--dpkgopt=force-unsafe-io',
    ...DPKG_EXCLUDES.map((o) => `--dpkgopt=${o}`), 'bookworm', root, mirror];
}

/** Bootstraps root (bootstrapArgv), reporting an estimate of its progress while it runs. */
export async function bootstrapRootfs(exec: HostExec, root: string, mirror: string, progress: ProgressFn): Promise<void> {
  const t0 = Date.now();
  // HostExec gives no live output: report an estimate (≈1 min here) while it runs.
  const timer = setInterval(() => {
    const s = (Date.now() - t0) / 1000;
    progress(5 + Math.floor(40 * (1 - Math.exp(-s / 45))), `bootstrap (${Math.round(s)} s)`);
  }, 5000);
  try {
    await exec.run(bootstrapArgv(root, mirror), { timeoutMs: 45 * 60_000, env: { ...process.env, ...CHROOT_ENV, INITRD: 'No' } });
  } finally {
    clearInterval(timer);
  }
}

const chroot = (exec: HostExec, root: string, argv: string[]) =>
  exec.run(['chroot', root, ...argv], { env: CHROOT_ENV, timeoutMs: 20 * 60_000 });

/** Makes the bootstrapped tree a nimbo image: seed units, fstab, small initrd, GRUB files, no per-host state. */
export async function configureRootfs(exec: HostExec, root: string, mirror: string, uuid: string): Promise<void> {
  for (const [p, f] of Object.entries(renderDebianFiles(READY_MARKER, mirror))) {
    await mkdir(dirname(join(root, p)), { recursive: true, mode: 0o755 });
    await rm(join(root, p), { force: true }); // resolv.conf may be a symlink
    await writeFile(join(root, p), f.content, { mode: f.mode });
    await chmod(join(root, p), f.mode);
  }
  await writeFile(join(root, 'etc/fstab'), renderFstab(uuid));
  await chroot(exec, root, ['systemctl', 'enable', 'systemd-networkd.service', 'nimbo-seed.service', 'nimbo-ready.service',
    'nimbo-growfs.service']);
  // The bootstrap ran with INITRD=No: before, the kernel's postinst and then initramfs-tools' trigger each made
  // a MODULES=most initrd (gzip, ~1.5 min apiece on a 2-core host) that this step replaced. The one initrd
  // is made here with the small module list above, and /initrd.img is linked to it as the postinst would.
  for (const v of (await readdir(join(root, 'lib/modules'))).sort()) {
    const made = await stat(join(root, 'boot', `initrd.img-${v}`)).then(() => true, () => false);
    await chroot(exec, root, ['update-initramfs', made ? '-u' : '-c', '-k', v]);
    await chroot(exec, root, ['linux-update-symlinks', made ? 'upgrade' : 'install', v, `/boot/vmlinuz-${v}`]);
  }
  // Per-machine state must not be baked into a template: each VM makes its own.
  for (const f of await readdir(join(root, 'etc/ssh'))) {
    if (f.startsWith('ssh_host_')) await rm(join(root, 'etc/ssh', f), { force: true });
  }
  await writeFile(join(root, 'etc/machine-id'), '');
  // mmdebstrap's own config (DPKG_EXCLUDES) is the build's, not the image's.
  await rm(join(root, 'etc/dpkg/dpkg.cfg.d/99mmdebstrap'), { force: true });
  await rm(join(root, 'var/lib/dbus/machine-id'), { force: true });
  for (const d of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
    for (const f of await readdir(join(root, d)).catch(() => [] as string[])) {
      if (f !== 'partial' && f !== 'lock') await rm(join(root, d, f), { recursive: true, force: true });
    }
  }
  // GRUB for BIOS boot, laid out as grub-install would, but built without touching a device.
  const grubDir = join(root, 'boot/grub');
  await mkdir(join(grubDir, 'i386-pc'), { recursive: true });
  await cp(join(root, 'usr/lib/grub/i386-pc'), join(grubDir, 'i386-pc'), { recursive: true });
  await writeFile(join(grubDir, 'grub.cfg'), renderGrubCfg(uuid));
  await writeFile(join(root, 'tmp/nimbo-grub-early.cfg'), renderGrubEarlyConfig(uuid));
  await chroot(exec, root, ['grub-mkimage', '-O', 'i386-pc', '-o', '/boot/grub/i386-pc/core.img',
    '-c', '/tmp/nimbo-grub-early.cfg', '-p', '/boot/grub', ...GRUB_MODULES]);
  await rm(join(root, 'tmp/nimbo-grub-early.cfg'));
}

/** Writes root into a bootable raw disk: MBR, ext4 partition at 1 MiB (mke2fs -d), GRUB boot.img + core.img. */
export async function makeBootableDisk(exec: HostExec, root: string, raw: string, uuid: string, size: number): Promise<void> {
  const core = join(root, 'boot/grub/i386-pc/core.img');
  const coreSize = (await stat(core)).size;
  if (coreSize > PART_OFFSET - 512) throw new NimboError('Internal', `GRUB core.img too big (${coreSize} bytes)`);
  await writeFile(raw, '');
  await truncate(raw, size);
  await exec.run(['sfdisk', '-q', '--no-reread', '--no-tell-kernel', raw], {
    input: `label: dos\nunit: sectors\n\nstart=${PART_OFFSET / 512}, type=83, bootable\n`,
  });
  await exec.run(['mke2fs', '-q', '-F', '-t', 'ext4', '-L', 'nimbo-root', '-U', uuid, '-E', `offset=${PART_OFFSET}`,
    '-d', root, raw, `${(size - PART_OFFSET) / 1024}k`], { timeoutMs: 20 * 60_000 });
  // boot.img's first 440 bytes only: the partition table that follows must survive.
  await exec.run(['dd', `if=${join(root, 'usr/lib/grub/i386-pc/boot.img')}`, `of=${raw}`, 'bs=440', 'count=1',
    'conv=notrunc', 'status=none']);
  await exec.run(['dd', `if=${core}`, `of=${raw}`, 'bs=512', 'seek=1', 'conv=notrunc', 'status=none']);
}

/**
 * Builds Debian 12 (mmdebstrap minbase + kernel, systemd, OpenSSH, GRUB) as a disk-booting
 * qcow2 in outDir. A oneshot unit applies the seed's nimbo/ files at boot; another prints
 * `NIMBO-READY <hostname>` on ttyS0 once sshd is up. Takes minutes; reuses a complete outDir unless `force`.
 */
export async function buildDebian12Image(opts: Debian12Options): Promise<BuiltImage> {
  const { exec } = opts;
  const progress = opts.progress ?? (() => {});
  const outDir = resolve(opts.outDir);
  if (!opts.force) {
    const cached = await readCompleteImage(outDir);
    if (cached && cached.name === 'debian-12') {
      progress(100, 'cached');
      return cached;
    }
  }
  const mirror = opts.mirror ?? (await hostDebianMirror());
  const work = await makeWorkDir(outDir);
  try {
    const root = join(work, 'rootfs');
    progress(2, `bootstrap bookworm from ${mirror}`);
    await bootstrapRootfs(exec, root, mirror, progress);
    progress(50, 'configuring');
    const uuid = randomUUID();
    await configureRootfs(exec, root, mirror, uuid);
    progress(65, 'bootable disk');
    const raw = join(work, 'disk.raw');
    await makeBootableDisk(exec, root, raw, uuid, DEBIAN_DISK_BYTES);
    await rm(root, { recursive: true, force: true });
    progress(85, 'qcow2');
    await exec.run(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', raw, join(work, DISK_FILE)], { timeoutMs: 30 * 60_000 });
    await rm(raw, { force: true });
    await chmod(join(work, DISK_FILE), 0o644);
    const image: BuiltImage = {
      name: 'debian-12',
      dir: outDir,
      disk: join(outDir, DISK_FILE),
      format: 'qcow2',
      virtualSizeBytes: DEBIAN_DISK_BYTES,
      boot: { kind: 'disk' },
      os: 'Debian GNU/Linux 12 (bookworm)',
      readyMarker: READY_MARKER,
    };
    await publishImage(work, [DISK_FILE], image);
    progress(100, 'done');
    return image;
  } catch (e) {
    await rm(work, { recursive: true, force: true });
    throw e;
  }
}
