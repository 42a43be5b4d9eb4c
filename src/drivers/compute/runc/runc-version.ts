// Which known runc container-escape fixes the host's runtime has, from `runc --version`.
// Upstream fix versions: https://github.com/opencontainers/runc/security/advisories
import type { HostExec } from '../../../host/exec.js';

/** A parsed runc version: 1.1.5+ds1 -> [1,1,5], no prerelease, build 'ds1'; 1.0.0-rc95 -> pre ['rc', 95]. */
export interface RuncVersion {
  major: number;
  minor: number;
  patch: number;
  /** Prerelease identifiers (rc95 and rc.95 both give ['rc', 95]); empty for a release. */
  pre: (string | number)[];
  /** Build metadata after '+' (a distribution's package suffix), or ''. */
  build: string;
  /** The version text as runc printed it. */
  text: string;
}

/** A fixed container escape: the first fixed release of each maintained branch, oldest branch first. */
export interface RuncCve {
  id: string;
  summary: string;
  fixedIn: string[];
}

/** Escapes from a container to the host that runc fixed (checked at daemon start, shown in `nimbo doctor`). */
export const RUNC_CVES: readonly RuncCve[] = [
  { id: 'CVE-2019-5736', summary: 'a container overwrites the host runc binary through /proc/self/exe', fixedIn: ['1.0.0-rc7'] },
  { id: 'CVE-2021-30465', summary: 'symlink-exchange race mounts a host path into the container', fixedIn: ['1.0.0-rc95'] },
  { id: 'CVE-2024-21626', summary: 'a leaked host directory fd gives a container process the host filesystem', fixedIn: ['1.1.12'] },
  { id: 'CVE-2025-31133', summary: 'maskedPaths bind of /dev/null replaced by a symlink: host procfs writes', fixedIn: ['1.2.8', '1.3.3', '1.4.0-rc.3'] },
  { id: 'CVE-2025-52565', summary: '/dev/console bind-mount race redirects writes to host procfs', fixedIn: ['1.2.8', '1.3.3', '1.4.0-rc.3'] },
  { id: 'CVE-2025-52881', summary: 'shared-mount races redirect runc writes to host procfs (LSM bypass)', fixedIn: ['1.2.8', '1.3.3', '1.4.0-rc.3'] },
];

/**
 * Distribution packages known to carry a fix while reporting an older upstream version:
 * exact `runc --version` strings -> CVE ids. Debian 12's DSA-5615-1 (1.1.5+ds1-1+deb12u1)
 * backports the CVE-2024-21626 fix.
 */
export const RUNC_BACKPORTS: Readonly<Record<string, readonly string[]>> = {
  '1.1.5+ds1-1+deb12u1': ['CVE-2024-21626'],
};

const VERSION_RE = /^v?(\d+)\.(\d+)(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.+~-]+))?$/;

/** Parses a version string like 1.1.12, 1.0.0-rc95, 1.4.0-rc.3, 1.1.5+ds1; null when it is not one. Pure. */
export function parseRuncVersion(text: string): RuncVersion | null {
  const m = VERSION_RE.exec(text.trim());
  if (!m) return null;
  const pre: (string | number)[] = [];
  for (const part of (m[4] ?? '').split('.').filter(Boolean)) {
    // "rc95" is rc.95 (runc's old spelling): split letters from digits.
    for (const piece of part.match(/[A-Za-z-]+|\d+/g) ?? []) pre.push(/^\d+$/.test(piece) ? Number(piece) : piece);
  }
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0), pre, build: m[5] ?? '', text: text.trim() };
}

/**
 * The version and package string from `runc --version` output ("runc version 1.1.5+ds1\ncommit:
 * 1.1.5+ds1-1+deb12u1\n..."); the commit line is what distributions set to their package
 * version. null when no version line is found. Pure.
 */
export function parseRuncVersionOutput(out: string): { version: RuncVersion; commit: string } | null {
  const line = /^\S+ version (\S+)/m.exec(out);
  const version = line ? parseRuncVersion(line[1]!) : null;
  if (!version) return null;
  return { version, commit: /^commit:\s*(\S+)/m.exec(out)?.[1] ?? '' };
}

/** Semver-like order of two versions (build metadata ignored): negative, 0 or positive. Pure. */
export function compareRuncVersions(a: RuncVersion, b: RuncVersion): number {
  for (const k of ['major', 'minor', 'patch'] as const) if (a[k] !== b[k]) return a[k] - b[k];
  // A release sorts after its prereleases.
  if (!a.pre.length || !b.pre.length) return (a.pre.length ? -1 : 0) + (b.pre.length ? 1 : 0);
  for (let i = 0; i < Math.max(a.pre.length, b.pre.length); i++) {
    const x = a.pre[i];
    const y = b.pre[i];
    if (x === undefined || y === undefined) return x === undefined ? -1 : 1;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * Whether version v has the fix: v's branch (major.minor) lists a fix and v is at or after it,
 * or v's branch is newer than every listed branch. Pure.
 */
export function hasFix(v: RuncVersion, cve: RuncCve): boolean {
  const fixes = cve.fixedIn.map((f) => parseRuncVersion(f)!);
  const same = fixes.find((f) => f.major === v.major && f.minor === v.minor);
  if (same) return compareRuncVersions(v, same) >= 0;
  const last = fixes[fixes.length - 1]!;
  return v.major > last.major || (v.major === last.major && v.minor > last.minor);
}

/** The releases (no prereleases) that have every fix in `missing`, oldest first. Pure. */
export function upgradeTargets(missing: readonly RuncCve[]): string[] {
  const all = [...new Set(missing.flatMap((c) => c.fixedIn))].map((t) => parseRuncVersion(t)!).filter((v) => !v.pre.length);
  return all.filter((v) => missing.every((c) => hasFix(v, c))).sort(compareRuncVersions).map((v) => v.text);
}

/** What the runtime check found. */
export interface RuncVersionReport {
  /** The version line's text, or null when `runc --version` said nothing usable. */
  version: string | null;
  /** CVEs whose fix this version lacks (empty: all known fixes present). */
  missing: RuncCve[];
  /** One sentence for the log and `nimbo doctor`. */
  detail: string;
  /** True when the runtime could not be run at all (missing or not executable). */
  failed?: boolean;
}

/** The report for `runc --version` output (pure: parsing, comparison and backport table only). */
export function runcVersionReport(out: string, cves: readonly RuncCve[] = RUNC_CVES): RuncVersionReport {
  const parsed = parseRuncVersionOutput(out);
  if (!parsed) return { version: null, missing: [], detail: 'cannot tell the runtime version from its --version output' };
  const backported = new Set(RUNC_BACKPORTS[parsed.commit] ?? []);
  const missing = cves.filter((c) => !backported.has(c.id) && !hasFix(parsed.version, c));
  const name = `${parsed.version.text}${parsed.commit && parsed.commit !== parsed.version.text ? ` (${parsed.commit})` : ''}`;
  if (!missing.length) return { version: parsed.version.text, missing, detail: `${name}: has the known container-escape fixes` };
  return {
    version: parsed.version.text,
    missing,
    detail: `${name} lacks the fixes for ${missing.map((c) => c.id).join(', ')}: upgrade runc to ` +
      `${upgradeTargets(missing).join(' or ')} or newer (unless the distribution backported them)`,
  };
}

/** Runs `RUNTIME --version` and reports which known escape fixes it lacks (a runtime that fails to run: version null). */
export async function checkRuncVersion(exec: HostExec, runtime = 'runc'): Promise<RuncVersionReport> {
  const r = await exec.run([runtime, '--version'], { allowFailure: true, timeoutMs: 10_000 }).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
  if (r.code !== 0) return { version: null, missing: [], failed: true, detail: `${runtime} --version failed: ${(r.stderr || r.stdout).trim().split('\n')[0]}` };
  return runcVersionReport(r.stdout);
}
