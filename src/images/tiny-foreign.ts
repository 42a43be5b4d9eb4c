// The tiny image of another architecture (tiny-aarch64, tiny-riscv64): the same initramfs, init scripts and
// disk as `tiny`, from Debian's own packages of that architecture (kernel, busybox-static, dropbear,
// resize2fs, qemu-guest-agent and their libraries), downloaded and unpacked with dpkg-deb -x. No foreign program runs on the host:
// module order comes from modules.dep (made by the host's depmod, which reads any ELF), the applet list
// from the host's busybox.
import { chmod, copyFile, lstat, mkdir, readdir, readFile, readlink, rename, rm, stat, symlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { HostExec } from '../host/exec.js';
import { NimboError, notFound } from '../lib/errors.js';
import type { GuestArch } from '../shared/arch-types.js';
import { DEBIAN_SOURCES, fetchDeb, hostMirror, loadIndex } from './debian-fetch.js';
import { moduleLoadOrderFromDep, parseModulesDep, resolvePackages } from './debian-packages.js';
import { makeWorkDir, publishImage, readCompleteImage } from './publish.js';
import { TINY_DISK_BYTES } from './sizes.js';
import { linkApplets, makeRootDisk, makeRootSkeleton, writeInitramfs, writeTinyFiles } from './tiny.js';
import { DISK_FILE, READY_MARKER, type BuildOptions, type BuiltImage } from './types.js';

type ForeignArch = Exclude<GuestArch, 'x86_64'>;

/** Per architecture: the kernel's serial console, and the Debian meta-package of its kernel. */
export const FOREIGN_TINY: Readonly<Record<ForeignArch, { console: string; kernelPkg: string }>> = {
  aarch64: { console: 'ttyAMA0', kernelPkg: 'linux-image-arm64' },
  riscv64: { console: 'ttyS0', kernelPkg: 'linux-image-riscv64' },
};

/** Modules the initramfs must load (unless built in), and ones it loads when the kernel has them. */
export const FOREIGN_MODULES = {
  required: ['virtio_pci', 'virtio_net', 'virtio_blk', 'virtio_rng', 'isofs', 'ext4'],
  // crc32c: ext4's metadata checksums (a soft dependency modules.dep does not list); gpio_keys + evdev: virt's power button.
  optional: ['virtio_console', 'crc32c_generic', 'gpio_keys', 'evdev'],
};

/** Userland packages of the root disk (their dependencies come along). */
const ROOT_PACKAGES = ['busybox-static', 'dropbear-bin', 'e2fsprogs', 'qemu-guest-agent'];
/** What is dropped from unpacked packages: documentation, translations, and the rest nobody runs in tiny. */
const DROP = ['usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale', 'usr/share/lintian', 'usr/share/bug',
  'usr/lib/locale', 'etc/init.d', 'etc/default', 'usr/share/initramfs-tools'];

/** The kernel cmdline of a foreign tiny image. */
export const foreignCmdline = (arch: ForeignArch): string => `console=${FOREIGN_TINY[arch].console} root=/dev/vda rw quiet`;

/** Where downloaded .debs and indexes are kept: next to the images (images/.deb-cache), reused by later builds. */
export const debCacheDir = (outDir: string): string => join(dirname(resolve(outDir)), '.deb-cache');

/**
 * Copies an unpacked package tree into root with /bin, /sbin and /lib* merged into /usr (root has the
 * usr-merge links: trixie's binaries look for /lib/ld-linux-*), leaving out DROP.
 */
async function mergeInto(src: string, root: string, rel = ''): Promise<void> {
  for (const e of await readdir(join(src, rel), { withFileTypes: true })) {
    let r = rel ? `${rel}/${e.name}` : e.name;
    if (DROP.includes(r) || r.includes('/gconv')) continue;
    const from = join(src, rel, e.name);
    if (/^(bin|sbin|lib|lib64)(\/|$)/.test(r)) r = `usr/${r}`;
    const to = join(root, r);
    if (e.isDirectory()) {
      await mkdir(to, { recursive: true, mode: 0o755 });
      await mergeInto(src, root, rel ? `${rel}/${e.name}` : e.name);
    } else if (e.isSymbolicLink()) {
      await rm(to, { force: true });
      await symlink(await readlink(from), to);
    } else {
      await copyFile(from, to);
      await chmod(to, (await stat(from)).mode & 0o7777);
    }
  }
}

/** The kernel version and files in an unpacked linux-image package (bookworm: /lib/modules, trixie: /usr/lib/modules). */
async function unpackedKernel(dir: string): Promise<{ kver: string; image: string; systemMap: string; modules: string }> {
  for (const modRoot of ['usr/lib/modules', 'lib/modules']) {
    const kvers = await readdir(join(dir, modRoot)).catch(() => [] as string[]);
    if (kvers.length !== 1) continue;
    const kver = kvers[0]!;
    for (const name of [`vmlinuz-${kver}`, `vmlinux-${kver}`]) {
      const image = join(dir, 'boot', name);
      if (await stat(image).catch(() => null)) return { kver, image, systemMap: join(dir, 'boot', `System.map-${kver}`), modules: join(dir, modRoot, kver) };
    }
  }
  throw notFound(`a kernel image and its modules in the unpacked kernel package (${dir})`);
}

/** Builds the tiny image of `arch` from Debian packages (see the file comment); outDir as buildTinyImage's. */
export async function buildForeignTinyImage(arch: ForeignArch, opts: BuildOptions): Promise<BuiltImage> {
  const { exec } = opts;
  const name = `tiny-${arch}`;
  const progress = opts.progress ?? (() => {});
  const outDir = resolve(opts.outDir);
  if (!opts.force) {
    const cached = await readCompleteImage(outDir);
    if (cached && cached.name === name) {
      progress(100, 'cached');
      return cached;
    }
  }
  const src = DEBIAN_SOURCES[arch];
  const cache = join(debCacheDir(outDir), `${src.suite}-${src.debArch}`);
  const work = await makeWorkDir(outDir);
  try {
    progress(2, `Debian ${src.suite} ${src.debArch} package index`);
    const index = await loadIndex(exec, await hostMirror(), src.suite, src.debArch, cache);
    const meta = index.packages.get(FOREIGN_TINY[arch].kernelPkg);
    const kernelPkgName = meta?.depends.flat().find((d) => d.startsWith('linux-image-') && index.packages.has(d));
    if (!kernelPkgName) throw notFound(`the kernel package behind ${FOREIGN_TINY[arch].kernelPkg} in ${src.suite}/${src.debArch}`);
    const kernelPkg = index.packages.get(kernelPkgName)!;
    const rootPkgs = resolvePackages(index.packages, ROOT_PACKAGES);
    const all = [kernelPkg, ...rootPkgs];
    const debs: string[] = [];
    for (const [i, p] of all.entries()) {
      progress(5 + Math.round((30 * i) / all.length), `download ${p.name} ${p.version}`);
      debs.push(await fetchDeb(index, p, cache));
    }
    progress(40, `unpack ${kernelPkg.name}`);
    const kdir = join(work, 'kernel');
    await exec.run(['dpkg-deb', '-x', debs[0]!, kdir], { timeoutMs: 300_000 });
    const k = await unpackedKernel(kdir);
    // depmod reads the modules (any architecture's ELF) and writes modules.dep; nothing foreign runs.
    const modBase = join(work, 'kmods');
    await mkdir(join(modBase, 'lib/modules'), { recursive: true });
    await rename(k.modules, join(modBase, 'lib/modules', k.kver));
    const depmodArgs = ['depmod', '-b', modBase, ...((await stat(k.systemMap).catch(() => null)) ? ['-F', k.systemMap] : []), k.kver];
    await exec.run(depmodArgs, { timeoutMs: 300_000 });
    const modDir = join(modBase, 'lib/modules', k.kver);
    const dep = parseModulesDep(await readFile(join(modDir, 'modules.dep'), 'utf8'));
    const builtinNames = (await readFile(join(modDir, 'modules.builtin'), 'utf8').catch(() => '')).split('\n').filter(Boolean).map((l) => l.split('/').pop()!.replace(/\.ko$/, '').replace(/-/g, '_'));
    const builtin = new Set(builtinNames);
    const req = moduleLoadOrderFromDep(dep, builtin, FOREIGN_MODULES.required);
    if (req.missing.length) throw notFound(`kernel modules ${req.missing.join(', ')} in ${kernelPkg.name}`);
    const opt = moduleLoadOrderFromDep(dep, builtin, [...FOREIGN_MODULES.required, ...FOREIGN_MODULES.optional]);
    const busyboxDir = join(work, 'busybox');
    await exec.run(['dpkg-deb', '-x', debs[1]!, busyboxDir]);
    const busybox = (await stat(join(busyboxDir, 'bin/busybox')).catch(() => null)) ? join(busyboxDir, 'bin/busybox') : join(busyboxDir, 'usr/bin/busybox');
    if (!(await stat(busybox).catch(() => null))) throw notFound('busybox in the busybox-static package');
    progress(50, `initramfs for kernel ${k.kver}`);
    await writeInitramfs(exec, work, busybox, opt.files.map((f) => join(modDir, f)), true);
    progress(60, 'root filesystem');
    const root = join(work, 'rootfs');
    await mkdir(join(root, 'usr'), { recursive: true, mode: 0o755 });
    for (const d of ['bin', 'sbin', 'lib']) {
      await mkdir(join(root, 'usr', d), { recursive: true, mode: 0o755 });
      await symlink(`usr/${d}`, join(root, d));
    }
    for (const [i, deb] of debs.slice(1).entries()) {
      const dir = join(work, `pkg-${i}`);
      await exec.run(['dpkg-deb', '-x', deb, dir]);
      await mergeInto(dir, root);
      await rm(dir, { recursive: true, force: true });
    }
    // 64-bit loaders some architectures look for under /lib64.
    if (await lstat(join(root, 'usr/lib64')).catch(() => null)) await symlink('usr/lib64', join(root, 'lib64'));
    await makeRootSkeleton(root);
    await linkApplets(exec, root, await hostBusybox());
    await writeTinyFiles(root, FOREIGN_TINY[arch].console);
    progress(75, 'ext4 root disk');
    await makeRootDisk(exec, work, root);
    await copyFile(k.image, join(work, 'vmlinuz'));
    await chmod(join(work, 'vmlinuz'), 0o644);
    await rm(kdir, { recursive: true, force: true });
    await rm(modBase, { recursive: true, force: true });
    await rm(busyboxDir, { recursive: true, force: true });
    progress(95, 'publish');
    const image: BuiltImage = {
      name,
      dir: outDir,
      disk: join(outDir, DISK_FILE),
      format: 'qcow2',
      virtualSizeBytes: TINY_DISK_BYTES,
      boot: { kind: 'direct', kernel: join(outDir, 'vmlinuz'), initrd: join(outDir, 'initrd.img'), cmdline: foreignCmdline(arch) },
      os: `nimbo tiny ${arch} (BusyBox + Dropbear + qemu-ga, Debian ${src.suite} Linux ${k.kver})`,
      readyMarker: READY_MARKER,
      arch,
    };
    await publishImage(work, [DISK_FILE, 'vmlinuz', 'initrd.img'], image);
    progress(100, 'done');
    return image;
  } catch (e) {
    await rm(work, { recursive: true, force: true });
    if (e instanceof NimboError) throw e;
    throw new NimboError('Internal', `building ${name}: ${(e as Error).message}`);
  }
}

/** The host's busybox (its applet list names the links of the guest's busybox of the same Debian line). */
async function hostBusybox(): Promise<string> {
  for (const p of ['/usr/bin/busybox', '/bin/busybox']) if (await stat(p).catch(() => null)) return p;
  throw notFound('busybox on the host (apt-get install busybox-static)');
}
