import { constants } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid } from '../../lib/errors.js';

/** What an app container needs from an image's config (OCI image config `config` section). */
export interface OciImageConfig {
  entrypoint: string[];
  cmd: string[];
  /** KEY=VALUE entries, in the image's order. */
  env: string[];
  /** '' when the image sets none (the process then starts in /). */
  workingDir: string;
  /** '' (root), "name", "uid", "uid:gid", "name:group", ... as in the image. */
  user: string;
  /** "80/tcp", "53/udp", sorted. */
  exposedPorts: string[];
  /** Paths the image declares as volumes, sorted. */
  volumes: string[];
  stopSignal?: string;
  labels: Record<string, string>;
  /** GOARCH-style architecture (amd64, arm64, ...) and OS of the image; '' when unset. */
  architecture: string;
  os: string;
}

/** Run-time overrides of the image's process settings (docker run's --entrypoint, args, -e, -w, -u). */
export interface ProcessOverrides {
  /** Replaces the image's entrypoint; also drops the image's cmd (as docker does). [] clears it. */
  entrypoint?: string[];
  /** Replaces the image's cmd. */
  cmd?: string[];
  /** KEY=VALUE entries added to (or replacing same-key entries of) the image's env. */
  env?: string[];
  workingDir?: string;
  user?: string;
}

/** The resolved first process of an app container (ids are container-side). */
export interface ResolvedProcess {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  /** Supplementary groups from /etc/group (only when the user spec names no group). */
  additionalGids: number[];
  /** The user's home from /etc/passwd, '/' when unknown (also exported as HOME if unset). */
  home: string;
}

/** The PATH a process gets when neither image nor overrides set one (docker's default). */
export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const MAX_ID = 4294967294;

const strList = (v: unknown, what: string): string[] => {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw invalid(`image config: ${what} must be a list of strings`);
  return v as string[];
};
const str = (v: unknown, what: string): string => {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw invalid(`image config: ${what} must be a string`);
  return v;
};
const keys = (v: unknown, what: string): string[] => {
  if (v === undefined || v === null) return [];
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid(`image config: ${what} must be an object`);
  return Object.keys(v).sort();
};

/**
 * Parses an OCI (or docker) image config blob: its text, or the parsed JSON. Throws
 * InvalidArgument for anything that is not one.
 */
export function parseImageConfig(input: string | Buffer | unknown): OciImageConfig {
  let raw: unknown = input;
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    try {
      raw = JSON.parse(input.toString());
    } catch {
      throw invalid('image config is not valid JSON');
    }
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalid('image config is not a JSON object');
  const r = raw as Record<string, unknown>;
  const c = (r.config ?? {}) as Record<string, unknown>;
  if (typeof c !== 'object' || Array.isArray(c)) throw invalid('image config: config must be an object');
  const labelsRaw = c.Labels ?? {};
  if (typeof labelsRaw !== 'object' || labelsRaw === null || Array.isArray(labelsRaw)) throw invalid('image config: Labels must be an object');
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(labelsRaw)) if (typeof v === 'string') labels[k] = v;
  const cfg: OciImageConfig = {
    entrypoint: strList(c.Entrypoint, 'Entrypoint'),
    cmd: strList(c.Cmd, 'Cmd'),
    env: strList(c.Env, 'Env'),
    workingDir: str(c.WorkingDir, 'WorkingDir'),
    user: str(c.User, 'User'),
    exposedPorts: keys(c.ExposedPorts, 'ExposedPorts'),
    volumes: keys(c.Volumes, 'Volumes'),
    labels,
    architecture: str(r.architecture, 'architecture'),
    os: str(r.os, 'os'),
  };
  const stop = str(c.StopSignal, 'StopSignal');
  if (stop) cfg.stopSignal = stop;
  return cfg;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

const isId = (s: string) => /^\d+$/.test(s) && Number(s) <= MAX_ID;

/** Parses /etc/passwd text (malformed lines and NIS +/- entries are skipped). */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(':');
    if (f.length < 4 || !f[0] || f[0].startsWith('#') || f[0].startsWith('+') || f[0].startsWith('-')) continue;
    if (!isId(f[2]!) || !isId(f[3]!)) continue;
    out.push({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' });
  }
  return out;
}

/** Parses /etc/group text. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(':');
    if (f.length < 3 || !f[0] || f[0].startsWith('#') || f[0].startsWith('+') || f[0].startsWith('-') || !isId(f[2]!)) continue;
    out.push({ name: f[0], gid: Number(f[2]), members: (f[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean) });
  }
  return out;
}

const envKey = (e: string) => e.slice(0, e.indexOf('='));

/**
 * Resolves the process an app container runs: the image's entrypoint/cmd/env/workingDir/user
 * with the overrides applied, the user looked up in the rootfs's /etc/passwd and /etc/group
 * text (read them with readUserDb). Pure. Throws InvalidArgument for an empty command, a
 * relative working directory, a bad env entry or an unknown user/group.
 */
export function resolveProcess(
  cfg: Pick<OciImageConfig, 'entrypoint' | 'cmd' | 'env' | 'workingDir' | 'user'>,
  overrides: ProcessOverrides = {},
  passwdText?: string,
  groupText?: string,
): ResolvedProcess {
  const entrypoint = overrides.entrypoint ?? cfg.entrypoint;
  const cmd = overrides.cmd ?? (overrides.entrypoint !== undefined ? [] : cfg.cmd);
  const args = [...entrypoint, ...cmd];
  if (args.length === 0 || args[0] === '') {
    throw invalid('no command to run: the image sets no entrypoint or cmd; give one (entrypoint or cmd override)');
  }

  const cwd = overrides.workingDir ?? (cfg.workingDir || '/');
  if (!cwd.startsWith('/')) throw invalid(`working directory must be an absolute path, not "${cwd}"`);

  // --- user ---
  const spec = (overrides.user ?? cfg.user).trim();
  const [userPart = '', groupPart, ...extra] = spec.split(':');
  if (extra.length) throw invalid(`bad user "${spec}": expected user, uid, user:group or uid:gid`);
  if (spec !== '' && userPart === '') throw invalid(`bad user "${spec}": no user before the colon`);
  if (groupPart === '') throw invalid(`bad user "${spec}": no group after the colon`);
  const passwd = passwdText === undefined ? undefined : parsePasswd(passwdText);
  const groups = groupText === undefined ? undefined : parseGroup(groupText);
  let uid = 0;
  let gid = 0;
  let home = '/';
  let entry: PasswdEntry | undefined;
  const u = userPart === '' ? '0' : userPart;
  if (isId(u)) {
    uid = Number(u);
    entry = passwd?.find((p) => p.uid === uid);
  } else if (/^\d+$/.test(u)) {
    throw invalid(`bad user "${spec}": uid out of range`);
  } else {
    if (!passwd) throw invalid(`cannot resolve user "${u}": the image has no /etc/passwd (use a numeric uid)`);
    entry = passwd.find((p) => p.name === u);
    if (!entry) throw invalid(`unknown user "${u}": no such entry in the image's /etc/passwd`);
    uid = entry.uid;
  }
  if (entry) {
    gid = entry.gid;
    home = entry.home;
  }
  let additionalGids: number[] = [];
  if (groupPart !== undefined) {
    if (isId(groupPart)) gid = Number(groupPart);
    else if (/^\d+$/.test(groupPart)) throw invalid(`bad user "${spec}": gid out of range`);
    else {
      if (!groups) throw invalid(`cannot resolve group "${groupPart}": the image has no /etc/group (use a numeric gid)`);
      const g = groups.find((x) => x.name === groupPart);
      if (!g) throw invalid(`unknown group "${groupPart}": no such entry in the image's /etc/group`);
      gid = g.gid;
    }
  } else if (entry && groups) {
    additionalGids = [...new Set(groups.filter((g) => g.members.includes(entry!.name) && g.gid !== gid).map((g) => g.gid))];
  }

  // --- env ---
  for (const e of overrides.env ?? []) {
    if (!/^[^=]+=/.test(e)) throw invalid(`bad environment entry "${e}": expected KEY=VALUE`);
  }
  const env: string[] = [];
  const pos = new Map<string, number>();
  for (const e of [...cfg.env, ...(overrides.env ?? [])]) {
    if (!/^[^=]+=/.test(e)) continue; // a bare KEY in an image config means nothing here
    const k = envKey(e);
    const i = pos.get(k);
    if (i === undefined) {
      pos.set(k, env.length);
      env.push(e);
    } else env[i] = e;
  }
  if (!pos.has('PATH')) env.unshift(DEFAULT_PATH);
  if (!pos.has('HOME')) env.push(`HOME=${home}`);

  return { args, env, cwd, uid, gid, additionalGids, home };
}

/**
 * Reads a small regular file of a container rootfs by its in-container path, resolving
 * symlinks *inside* the rootfs (an absolute or ../ link never leaves it), so an image cannot
 * make nimbo read a host file. Returns undefined when the path does not resolve to a regular
 * file, or the file exceeds maxBytes. Call it while no container runs on this rootfs.
 */
export async function readFileInRoot(root: string, path: string, maxBytes = 1 << 20): Promise<string | undefined> {
  const rest = path.split('/').filter((c) => c !== '' && c !== '.');
  const stack: string[] = [];
  let hops = 0;
  while (rest.length) {
    const c = rest.shift()!;
    if (c === '..') {
      stack.pop();
      continue;
    }
    const p = join(root, ...stack, c);
    const st = await lstat(p).catch(() => null);
    if (!st) return undefined;
    if (st.isSymbolicLink()) {
      if (++hops > 40) return undefined;
      const target = await readlink(p);
      if (target.startsWith('/')) stack.length = 0;
      rest.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
      continue;
    }
    if (rest.length && !st.isDirectory()) return undefined;
    stack.push(c);
  }
  const fh = await open(join(root, ...stack), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => null);
  if (!fh) return undefined;
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > maxBytes) return undefined;
    const buf = Buffer.alloc(st.size);
    const { bytesRead } = await fh.read(buf, 0, st.size, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

/** Reads the rootfs's /etc/passwd and /etc/group for resolveProcess (undefined when absent). */
export async function readUserDb(rootfs: string): Promise<{ passwd?: string; group?: string }> {
  const [passwd, group] = await Promise.all([readFileInRoot(rootfs, '/etc/passwd'), readFileInRoot(rootfs, '/etc/group')]);
  return { ...(passwd !== undefined ? { passwd } : {}), ...(group !== undefined ? { group } : {}) };
}
