// The guest architecture of a launch: the one asked for, checked against the image's and against what this
// host can run (its own architecture, or an emulated one whose emulator and firmware are installed).
import { conflict, invalid } from '../lib/errors.js';
import { DEFAULT_ARCH, nativeArch, type ArchSupport, type GuestArch } from '../shared/arch-types.js';

/** What launchArch needs to know about the launch. */
export interface ArchLaunch {
  /** The architecture the request names, if any. */
  asked?: GuestArch;
  image: string;
  /** The image's architecture. */
  imageArch: GuestArch;
  kind: 'vm' | 'container';
  /** The instance driver's archSupport() (undefined: it runs the host's own architecture only). */
  support?: ArchSupport[];
  /** The host's architecture (default: this process's). */
  native?: string;
}

/**
 * The launch's architecture (default: the image's). Refused before anything is made: an image built for
 * another architecture (InvalidArgument); an architecture this host cannot run, naming the Debian
 * packages it lacks (Conflict); a container of another architecture than the host's (InvalidArgument).
 */
export function launchArch(l: ArchLaunch): GuestArch {
  const arch = l.asked ?? l.imageArch;
  if (arch !== l.imageArch) {
    throw invalid(`image ${l.image} is built for ${l.imageArch}, not ${arch}: launch an ${arch} image (e.g. ${arch === DEFAULT_ARCH ? 'tiny' : `tiny-${arch}`}) or leave out the architecture`);
  }
  const native = l.native ?? nativeArch();
  if (l.kind === 'container' || !l.support) {
    if (arch !== native) throw invalid(`${l.kind === 'container' ? 'containers' : 'this driver'} run the host's architecture (${native}) only, not ${arch}`);
    return arch;
  }
  const s = l.support.find((x) => x.arch === arch);
  if (!s) throw invalid(`unknown architecture ${arch}`);
  if (s.missing.length) {
    const pkgs = [...new Set(s.missing.map((m) => m.pkg))];
    throw conflict(`this host cannot run ${arch} VMs: ${s.missing.map((m) => `${m.what} is not installed (Debian package ${m.pkg})`).join('; ')}; install it with apt-get install ${pkgs.join(' ')}`);
  }
  return arch;
}
