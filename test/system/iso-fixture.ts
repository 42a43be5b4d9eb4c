// A small bootable installer ISO, made in the test: isolinux boots the host's kernel with an initramfs whose
// /init (the "installer") writes a prepared disk onto /dev/vda and powers off. The prepared disk is an MBR
// (syslinux's mbr.bin) and one FAT partition holding syslinux, the same kernel and a tiny initramfs that prints
// the installed system's marker: so a boot that shows the marker came from the disk, not from the CD.
// Needs genisoimage, isolinux, syslinux (+ mtools), fdisk (sfdisk), busybox-static and the host kernel.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runArgv } from '../../src/host/exec.js';
import { RealExec } from '../../src/host/exec.js';
import { findKernel, moduleLoadOrder } from '../../src/images/host-tools.js';
import { renderCpio, type CpioEntry } from '../../src/drivers/compute/qemu/initramfs-fixture.js';

const MiB = 1024 * 1024;

function busyboxBase(): CpioEntry[] {
  return [
    { kind: 'dir', name: 'bin' }, { kind: 'dir', name: 'dev' }, { kind: 'dir', name: 'proc' }, { kind: 'dir', name: 'sys' },
    { kind: 'chardev', name: 'dev/console', major: 5, minor: 1 },
    { kind: 'file', name: 'bin/busybox', data: readFileSync('/bin/busybox'), mode: 0o755 },
    { kind: 'symlink', name: 'bin/sh', target: 'busybox' },
  ];
}

/** The installed system's disk (raw): MBR + FAT partition at 1 MiB with syslinux, kernel and a marker-printing initramfs. */
async function installedDisk(dir: string, vmlinuz: string, marker: string): Promise<Buffer> {
  const init = ['#!/bin/sh', 'export PATH=/bin', `echo ${marker}`, 'while true; do busybox sleep 3600; done', ''].join('\n');
  writeFileSync(join(dir, 'system.gz'), gzipSync(renderCpio([...busyboxBase(), { kind: 'file', name: 'init', data: init, mode: 0o755 }])));
  writeFileSync(join(dir, 'syslinux.cfg'), 'DEFAULT installed\nPROMPT 0\nTIMEOUT 0\nLABEL installed\n  KERNEL /vmlinuz\n  INITRD /system.gz\n  APPEND console=ttyS0 quiet\n');
  copyFileSync(vmlinuz, join(dir, 'vmlinuz'));
  const disk = join(dir, 'installed.img');
  writeFileSync(disk, Buffer.alloc(0));
  await runArgv(['truncate', '-s', `${24 * MiB}`, disk]);
  await runArgv(['sfdisk', '-q', disk], { input: 'label: dos\nstart=2048, type=c, bootable\n' });
  await runArgv(['dd', 'if=/usr/lib/syslinux/mbr/mbr.bin', `of=${disk}`, 'bs=440', 'count=1', 'conv=notrunc', 'status=none']);
  await runArgv(['mformat', '-i', `${disk}@@1M`, '-v', 'NIMBODISK', '-H', '2048', '::']);
  await runArgv(['syslinux', '--install', '--offset', String(MiB), disk]);
  await runArgv(['mcopy', '-i', `${disk}@@1M`, join(dir, 'vmlinuz'), join(dir, 'system.gz'), join(dir, 'syslinux.cfg'), '::/']);
  return readFileSync(disk);
}

/**
 * Build `dir/installer.iso`: El Torito (isolinux) boots the installer, which copies the installed disk onto
 * /dev/vda (a virtio disk), prints `INSTALL-DONE`, and powers the VM off. Returns its path.
 */
export async function buildInstallerIso(dir: string, marker: string): Promise<string> {
  const { kver, vmlinuz } = await findKernel();
  const work = join(dir, 'iso-work');
  const root = join(work, 'cd');
  mkdirSync(join(root, 'isolinux'), { recursive: true });
  const mods = await moduleLoadOrder(new RealExec(), kver, ['virtio_pci', 'virtio_blk']);
  if (mods.some((m) => !m.endsWith('.ko'))) throw new Error(`compressed kernel modules need unpacking: ${mods.join(' ')}`);
  const disk = gzipSync(await installedDisk(work, vmlinuz, marker));
  const init = [
    '#!/bin/sh',
    'export PATH=/bin',
    'busybox mount -t proc proc /proc', 'busybox mount -t sysfs sys /sys', 'busybox mount -t devtmpfs dev /dev',
    ...mods.map((m) => `busybox insmod /m/${basename(m)}`),
    'i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do busybox sleep 0.2; i=$((i+1)); done',
    '[ -b /dev/vda ] || { echo INSTALL-FAILED: no /dev/vda; busybox poweroff -f; }',
    'echo INSTALLER-WRITING',
    'busybox zcat /disk.img.gz > /dev/vda && busybox sync && echo INSTALL-DONE',
    'busybox poweroff -f',
    '',
  ].join('\n');
  const installer: CpioEntry[] = [
    ...busyboxBase(),
    { kind: 'dir', name: 'm' },
    ...mods.map((m): CpioEntry => ({ kind: 'file', name: `m/${basename(m)}`, data: readFileSync(m) })),
    { kind: 'file', name: 'disk.img.gz', data: disk },
    { kind: 'file', name: 'init', data: init, mode: 0o755 },
  ];
  writeFileSync(join(root, 'install.gz'), gzipSync(renderCpio(installer), { level: 1 }));
  copyFileSync(vmlinuz, join(root, 'vmlinuz'));
  copyFileSync('/usr/lib/ISOLINUX/isolinux.bin', join(root, 'isolinux', 'isolinux.bin'));
  copyFileSync('/usr/lib/syslinux/modules/bios/ldlinux.c32', join(root, 'isolinux', 'ldlinux.c32'));
  writeFileSync(join(root, 'isolinux', 'isolinux.cfg'), 'DEFAULT install\nPROMPT 0\nTIMEOUT 0\nLABEL install\n  KERNEL /vmlinuz\n  INITRD /install.gz\n  APPEND console=ttyS0 quiet\n');
  const iso = join(dir, 'installer.iso');
  await runArgv(['genisoimage', '-quiet', '-o', iso, '-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table', '-J', '-R', '-V', 'NIMBO-INSTALL', root]);
  return iso;
}

/** A plain (not bootable) ISO 9660 image with one file: media to insert and eject. */
export async function buildDataIso(dir: string): Promise<string> {
  const root = join(dir, 'data-cd');
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'README.TXT'), 'a data CD\n');
  const iso = join(dir, 'data.img'); // not named .iso: an ISO is known by its content
  await runArgv(['genisoimage', '-quiet', '-o', iso, '-V', 'NIMBO-DATA', '-J', '-R', root]);
  return iso;
}
