import { chmod, copyFile, mkdir, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { HostExec } from '../host/exec.js';
import { NimboError, notFound } from '../lib/errors.js';

/** Compares two kernel version strings numerically part by part (6.1.0-9 < 6.1.0-56). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[^0-9]+/).filter(Boolean).map(Number);
  const pb = b.split(/[^0-9]+/).filter(Boolean).map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0) return d;
  }
  return a.localeCompare(b);
}

/** Picks the newest kernel that has both /boot/vmlinuz-KVER and /lib/modules/KVER. */
export function pickKernelVersion(bootEntries: string[], moduleDirs: string[]): string | undefined {
  const mods = new Set(moduleDirs);
  const kvers = bootEntries
    .filter((e) => e.startsWith('vmlinuz-'))
    .map((e) => e.slice('vmlinuz-'.length))
    .filter((k) => mods.has(k));
  return kvers.sort(compareVersions).at(-1);
}

/** Finds the host kernel to use (requested or newest); throws NotFound when absent. */
export async function findKernel(requested?: string): Promise<{ kver: string; vmlinuz: string; modules: string }> {
  const list = async (d: string) => readdir(d).catch(() => [] as string[]);
  const kver = requested ?? pickKernelVersion(await list('/boot'), await list('/lib/modules'));
  if (!kver) throw notFound('a host kernel (/boot/vmlinuz-* with /lib/modules; apt-get install linux-image-amd64)');
  const vmlinuz = `/boot/vmlinuz-${kver}`;
  const modules = `/lib/modules/${kver}`;
  for (const p of [vmlinuz, modules]) {
    if (!(await stat(p).catch(() => null))) throw notFound(`kernel file ${p}`);
  }
  return { kver, vmlinuz, modules };
}

/** Parses `modprobe --show-depends` output into module file paths, in load order. */
export function parseShowDepends(out: string): string[] {
  const files: string[] = [];
  for (const line of out.split('\n')) {
    const m = /^insmod\s+(\S+)/.exec(line.trim());
    if (m) files.push(m[1]!);
  }
  return files;
}

/** Resolves kernel modules (with their dependencies) to module files in a valid load order. */
export async function moduleLoadOrder(exec: HostExec, kver: string, mods: string[]): Promise<string[]> {
  const order: string[] = [];
  for (const mod of mods) {
    const res = await exec.run(['modprobe', '-S', kver, '--show-depends', mod], { allowFailure: true });
    if (res.code !== 0) {
      throw new NimboError('NotFound', `kernel module ${mod} not found for kernel ${kver}`, { stderr: res.stderr });
    }
    for (const f of parseShowDepends(res.stdout)) if (!order.includes(f)) order.push(f);
  }
  return order;
}

/** Parses `ldd` output into the absolute paths of the shared libraries (and the loader). */
export function parseLdd(out: string): string[] {
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s+(\/\S+)\s+\(/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m && !libs.includes(m[1]!)) libs.push(m[1]!);
  }
  return libs;
}

/** Copies a file to root/dest (creating dirs; follows symlinks) with the given mode. */
export async function copyInto(root: string, src: string, dest: string, mode: number): Promise<void> {
  const target = join(root, dest);
  await mkdir(dirname(target), { recursive: true, mode: 0o755 });
  await copyFile(src, target);
  await chmod(target, mode);
}

/** The shared libraries `ldd` names for a host program (none for a static one). */
export async function sharedLibs(exec: HostExec, bin: string): Promise<string[]> {
  const res = await exec.run(['ldd', bin], { allowFailure: true });
  // ldd exits 1 with "not a dynamic executable" for static binaries.
  return res.code === 0 ? parseLdd(res.stdout) : [];
}

/**
 * Copies host executables into root at the same paths, plus every shared library `ldd`
 * names. Returns the library paths copied.
 */
export async function copyBinariesWithLibs(exec: HostExec, root: string, bins: string[]): Promise<string[]> {
  const libs: string[] = [];
  for (const bin of bins) {
    if (!(await stat(bin).catch(() => null))) throw notFound(`host program ${bin}`);
    await copyInto(root, bin, bin, 0o755);
    for (const l of await sharedLibs(exec, bin)) if (!libs.includes(l)) libs.push(l);
  }
  for (const lib of libs) await copyInto(root, lib, lib, 0o755);
  return libs;
}

/**
 * Copies kernel modules into dir (flat, by base name), decompressing .ko.xz/.ko.zst/.ko.gz
 * at build time since busybox insmod may not; returns the plain .ko names in order.
 */
export async function stageModules(exec: HostExec, files: string[], dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const names: string[] = [];
  for (const f of files) {
    const base = basename(f);
    const target = join(dir, base);
    await copyFile(f, target);
    if (base.endsWith('.ko.xz')) await exec.run(['xz', '-d', '-f', target]);
    else if (base.endsWith('.ko.zst')) await exec.run(['zstd', '-d', '-q', '-f', '--rm', target]);
    else if (base.endsWith('.ko.gz')) await exec.run(['gzip', '-d', '-f', target]);
    names.push(base.replace(/\.ko\.(xz|zst|gz)$/, '.ko'));
  }
  return names;
}

/** Lists every path under dir (relative, parents first), for cpio's file list. */
export async function listTree(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await readdir(join(dir, rel), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    out.push(p);
    if (e.isDirectory()) out.push(...(await listTree(dir, p)));
  }
  return out;
}
