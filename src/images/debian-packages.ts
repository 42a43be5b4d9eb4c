// Pure parsers for Debian's archive files (Release, Packages) and the kernel's modules.dep, and the
// resolution of what to download and in which order to load modules: no I/O here (debian-fetch.ts does it).
import { notFound } from '../lib/errors.js';

/** One binary package of a Packages index. */
export interface DebPackage {
  name: string;
  version: string;
  /** Path of the .deb below the mirror root (pool/main/...). */
  filename: string;
  sha256: string;
  size: number;
  /** Depends and Pre-Depends: each entry is a list of alternatives (package names, versions dropped). */
  depends: string[][];
}

/** The SHA256 section of a Release/InRelease file: path → checksum and size. */
export function parseReleaseSha256(release: string): Map<string, { sha256: string; size: number }> {
  const out = new Map<string, { sha256: string; size: number }>();
  let inSha = false;
  for (const line of release.split('\n')) {
    if (/^\S/.test(line)) {
      inSha = line.startsWith('SHA256:');
      continue;
    }
    if (!inSha) continue;
    const m = /^\s+([0-9a-f]{64})\s+(\d+)\s+(\S+)\s*$/.exec(line);
    if (m) out.set(m[3]!, { sha256: m[1]!, size: Number(m[2]) });
  }
  return out;
}

/** The dependency field `Depends: a (>= 1), b | c:any` as [[a], [b, c]]. */
export function parseDepends(field: string): string[][] {
  return field
    .split(',')
    .map((alts) => alts.split('|').map((a) => a.trim().replace(/\s*\(.*\)$/, '').replace(/\s*\[.*\]$/, '').replace(/:\w+$/, '')).filter(Boolean))
    .filter((alts) => alts.length > 0);
}

/** Parses a Packages index (deb822 stanzas) into packages by name (the first stanza of a name wins). */
export function parsePackages(text: string): Map<string, DebPackage> {
  const out = new Map<string, DebPackage>();
  for (const stanza of text.split(/\n\s*\n/)) {
    const f = new Map<string, string>();
    let last = '';
    for (const line of stanza.split('\n')) {
      if (/^\s/.test(line)) {
        if (last) f.set(last, `${f.get(last)}\n${line.trim()}`);
        continue;
      }
      const i = line.indexOf(':');
      if (i <= 0) continue;
      last = line.slice(0, i);
      f.set(last, line.slice(i + 1).trim());
    }
    const name = f.get('Package');
    const filename = f.get('Filename');
    const sha256 = f.get('SHA256');
    if (!name || !filename || !sha256 || out.has(name)) continue;
    const deps = [f.get('Pre-Depends'), f.get('Depends')].filter((d): d is string => !!d).flatMap(parseDepends);
    out.set(name, { name, version: f.get('Version') ?? '', filename, sha256, size: Number(f.get('Size') ?? 0), depends: deps });
  }
  return out;
}

/**
 * The packages `roots` need, dependencies included (first alternative the index has), each once, roots
 * first. NotFound when a root, or every alternative of a dependency, is missing from the index.
 */
export function resolvePackages(index: Map<string, DebPackage>, roots: string[]): DebPackage[] {
  const out: DebPackage[] = [];
  const seen = new Set<string>();
  const queue = roots.map((r) => [r]);
  while (queue.length) {
    const alts = queue.shift()!;
    const name = alts.find((a) => index.has(a));
    if (!name) throw notFound(`Debian package ${alts.join(' | ')} (not in the package index)`);
    if (seen.has(name)) continue;
    seen.add(name);
    const p = index.get(name)!;
    out.push(p);
    queue.push(...p.depends);
  }
  return out;
}

/** A module's name as the kernel knows it: file base name without .ko(.xz|.zst|.gz), dashes as underscores. */
export function moduleName(file: string): string {
  return (file.split('/').pop() ?? file).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

/** Parses modules.dep (`path: dep dep ...`, paths relative to the modules dir) into module name → file and deps. */
export function parseModulesDep(text: string): Map<string, { file: string; deps: string[] }> {
  const out = new Map<string, { file: string; deps: string[] }>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const file = line.slice(0, i).trim();
    out.set(moduleName(file), { file, deps: line.slice(i + 1).trim().split(/\s+/).filter(Boolean) });
  }
  return out;
}

/**
 * The module files to insmod, in load order, for `mods` (what modprobe would do, without running it):
 * each module's dependencies first (modules.dep lists them so that the last one loads first), each file
 * once. Built-in modules (names from modules.builtin) need nothing; `missing` lists the names found nowhere.
 */
export function moduleLoadOrderFromDep(dep: Map<string, { file: string; deps: string[] }>, builtin: Set<string>, mods: string[]): { files: string[]; missing: string[] } {
  const files: string[] = [];
  const missing: string[] = [];
  const add = (f: string) => {
    if (!files.includes(f)) files.push(f);
  };
  for (const m of mods) {
    const name = moduleName(m);
    const e = dep.get(name);
    if (!e) {
      if (!builtin.has(name)) missing.push(m);
      continue;
    }
    for (const d of [...e.deps].reverse()) add(d);
    add(e.file);
  }
  return { files, missing };
}
