import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { BuiltinImage } from './catalog.js';
import { findKernel } from './host-tools.js';

/** What the host offers a build: checked before a build starts. */
export interface BuildHost {
  isRoot: boolean;
  /** Whether an executable of that name is on the daemon's PATH (or in the sbin directories). */
  hasProgram(program: string): boolean;
  /** Whether a host kernel with its modules is installed (/boot/vmlinuz-KVER and /lib/modules/KVER). */
  hasKernel: boolean;
}

/**
 * Why a built-in image cannot be built on this host (one phrase each, with the package to
 * install); empty when the build can start. Pure: the host is described by `host`.
 */
export function buildBlockers(image: BuiltinImage, host: BuildHost): string[] {
  const out: string[] = [];
  if (!host.isRoot) out.push('the daemon does not run as root (building an image needs root)');
  const missing = image.needs.filter((n) => !host.hasProgram(n.program));
  if (missing.length) {
    const pkgs = [...new Set(missing.map((n) => n.pkg))];
    out.push(`${missing.map((n) => n.program).join(', ')} ${missing.length === 1 ? 'is' : 'are'} not installed (apt-get install ${pkgs.join(' ')})`);
  }
  if (image.hostKernel && !host.hasKernel) out.push('no host kernel with modules in /boot and /lib/modules (apt-get install linux-image-amd64)');
  return out;
}

const SBIN_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Probes this host for what `image` needs (programs on PATH and in the sbin dirs, the kernel, root). */
export async function probeBuildHost(image: BuiltinImage): Promise<BuildHost> {
  const dirs = [...new Set([...(process.env.PATH ?? '').split(delimiter).filter((d) => d.startsWith('/')), ...SBIN_DIRS])];
  const found = new Set<string>();
  for (const { program } of image.needs) {
    for (const d of dirs) {
      if (await access(join(d, program), constants.X_OK).then(() => true, () => false)) {
        found.add(program);
        break;
      }
    }
  }
  const hasKernel = image.hostKernel ? await findKernel().then(() => true, () => false) : true;
  return { isRoot: process.getuid?.() === 0, hasProgram: (p) => found.has(p), hasKernel };
}
