// What `nimbo admin uninstall` removes, decided from what the host shows (pure: every input is text or
// a parsed listing, so unit tests cover each rule). Each rule matches the exact name shapes nimbo's
// drivers create, never a bare "starts with the prefix": a prefix such as "br" must not reach Docker's
// br-0123abcd bridges, nor "v" a veth of another tool. Processes, mounts and loop devices are matched by
// the state dir instead (they carry its paths), never by name alone.
import { basename, dirname } from 'node:path';
import { validatePrefix } from './config.js';
import { invalid } from '../lib/errors.js';
import { IFB_ALIAS_PREFIX, ifbNameFor } from '../drivers/network/qos/tc-render.js';
import type { MountInfo } from '../drivers/compute/runc/rootfs/mounts.js';
import { cgroupParentOf } from '../drivers/compute/runc/container-info.js';

/**
 * Prefixes that name other software's host objects (or the kernel's): a daemon may still use one,
 * but uninstall refuses it, because a mistake there reaches what other tools own.
 */
export const RESERVED_PREFIXES = ['br', 'brd', 'bond', 'cali', 'cilium', 'cni', 'docker', 'dummy', 'en', 'eth', 'flanne', 'ib', 'ifb', 'incus', 'kube', 'lo', 'lxc', 'lxcbr', 'lxd', 'lxdbr', 'nqifb', 'podman', 'sit', 'tap', 'team', 'tun', 'veth', 'virbr', 'vlan', 'vnet', 'vx', 'vxlan', 'wg', 'wl', 'ww'];

/** Check the prefix uninstall works on: the daemon's rules, and not one of RESERVED_PREFIXES. */
export function checkPurgePrefix(prefix: string): string {
  validatePrefix(prefix);
  if (RESERVED_PREFIXES.includes(prefix)) throw invalid(`prefix ${JSON.stringify(prefix)} is also used by other software's host objects; uninstall refuses it`);
  return prefix;
}

/** One link of `ip -j -d link show`. */
export interface IpLink {
  ifname?: string;
  ifalias?: string;
  linkinfo?: { info_kind?: string };
}

/** A host object to remove and what it is ("tap", "bridge", ...), for the report. */
export interface PurgeItem {
  kind: string;
  name: string;
}

/**
 * Links of this prefix, in removal order: taps and container veths (PREFIX-HEX, see tapName), their
 * ifb shapers (alias nimbo-qos:TAP), VXLAN ports (PREFIXvxN), then bridges (PREFIXbrN).
 */
export function linksToPurge(prefix: string, links: IpLink[]): PurgeItem[] {
  checkPurgePrefix(prefix);
  const tapRe = new RegExp(`^${prefix}-[0-9a-f]{1,13}$`);
  const nicRe = tapRe;
  const out: PurgeItem[][] = [[], [], [], []];
  for (const l of links) {
    const name = l.ifname ?? '';
    const kind = l.linkinfo?.info_kind;
    if ((kind === 'tun' || kind === 'veth') && nicRe.test(name)) out[0]!.push({ kind: kind === 'tun' ? 'tap' : 'veth', name });
    else if (kind === 'ifb' && typeof l.ifalias === 'string' && l.ifalias.startsWith(IFB_ALIAS_PREFIX)) {
      const tap = l.ifalias.slice(IFB_ALIAS_PREFIX.length);
      if (tapRe.test(tap) && ifbNameFor(tap) === name) out[1]!.push({ kind: 'ifb', name });
    } else if (kind === 'vxlan' && new RegExp(`^${prefix}vx[0-9]{1,3}$`).test(name)) out[2]!.push({ kind: 'vxlan', name });
    else if (kind === 'bridge' && new RegExp(`^${prefix}br[0-9]{1,3}$`).test(name)) out[3]!.push({ kind: 'bridge', name });
  }
  return out.flat();
}

/** Network namespaces of this prefix's containers (PREFIX-8HEX, see instance-service). */
export function netnsToPurge(prefix: string, names: string[]): string[] {
  checkPurgePrefix(prefix);
  const re = new RegExp(`^${prefix}-[0-9a-f]{8}$`);
  return names.filter((n) => re.test(n));
}

/** Names of `ip netns list` output ("NAME" or "NAME (id: N)" per line). */
export function parseNetnsList(text: string): string[] {
  return text.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean);
}

/**
 * Whether `nft -j list table FAMILY NAME` output is a table nimbo rendered: every chain, set, map and
 * flowtable in it is named net_*, sg_*, fwd_* (ruleset.ts) or md_* (metadata-nft.ts). A table someone else made under the same
 * name is left alone.
 */
export function isNimboTable(json: string): boolean {
  let data: { nftables?: Record<string, { name?: unknown }>[] };
  try {
    data = JSON.parse(json) as typeof data;
  } catch {
    return false;
  }
  if (!Array.isArray(data.nftables) || !data.nftables.some((e) => 'table' in e)) return false;
  for (const e of data.nftables) {
    for (const k of ['chain', 'set', 'map', 'flowtable', 'counter', 'quota', 'ct helper', 'limit']) {
      const obj = e[k];
      if (obj && !(typeof obj.name === 'string' && /^(net|sg|fwd|md)_/.test(obj.name))) return false;
    }
  }
  return true;
}

/** One process: pid and argv (from /proc/PID/cmdline). */
export interface ProcInfo {
  pid: number;
  argv: string[];
}

const HELPERS = /^(qemu-system-[a-z0-9_]+|dnsmasq|python3(\.[0-9]+)?|runc|crun)$/;

/**
 * Helper processes of the daemon on `stateDir`: QEMU (its -pidfile, sockets and disks are there),
 * dnsmasq (--conf-file=STATE/networks/...), the runc exit shim and pty helper (python3 with paths
 * there). The program must be one of these and an argument must name a path inside the state dir.
 */
export function processesToPurge(stateDir: string, procs: ProcInfo[], self: number): ProcInfo[] {
  const inside = `${stateDir.replace(/\/+$/, '')}/`;
  return procs.filter((p) => {
    if (p.pid === self || p.pid <= 1 || p.argv.length === 0) return false;
    if (!HELPERS.test(basename(p.argv[0]!))) return false;
    return p.argv.slice(1).some((a) => a.startsWith(inside) || a.includes(`=${inside}`) || a.includes(`,${inside}`) || a.includes(`:${inside}`));
  });
}

/** Whether argv is `nimbo daemon` (node .../main.js daemon ...): a pidfile is trusted only then. */
export function isNimbodArgv(argv: string[]): boolean {
  return argv.length >= 3 && /(^|\/)node[0-9.]*$/.test(argv[0]!) && argv.includes('daemon') && argv.some((a) => /(^|\/)(main\.js|nimbo)$/.test(a));
}

/**
 * Mounts nimbo made under `roots` (the state dir and the storage pools), deepest first: container roots
 * (ROOT/rootfs, ROOT/lower beside nimbo-root.json) and image extraction mounts (IMAGE.extract-XXXX/mnt).
 * `hasRootState(dir)` says whether dir holds nimbo-root.json. Other mounts there are the user's.
 */
export function mountsToPurge(roots: string[], mounts: MountInfo[], hasRootState: (dir: string) => boolean): string[] {
  const under = (p: string) => roots.some((r) => p.startsWith(`${r.replace(/\/+$/, '')}/`));
  const ours = mounts
    .map((m) => m.mountPoint)
    .filter((mp) => under(mp))
    .filter((mp) => {
      const b = basename(mp);
      if ((b === 'rootfs' || b === 'lower') && hasRootState(dirname(mp))) return true;
      return b === 'mnt' && /\.extract-[A-Za-z0-9]+$/.test(dirname(mp));
    });
  // Deepest first; a root's overlay (rootfs) before the idmapped tree under it (lower), which it holds busy.
  const rank = (mp: string) => -mp.split('/').length * 2 + (basename(mp) === 'rootfs' ? 0 : 1);
  return ours.sort((a, b) => rank(a) - rank(b));
}

/** Loop devices (`losetup -J -l`) whose backing file lies in the state dir (image extraction). */
export function loopsToPurge(stateDir: string, json: string): string[] {
  let data: { loopdevices?: { name?: unknown; 'back-file'?: unknown }[] };
  try {
    data = JSON.parse(json) as typeof data;
  } catch {
    return [];
  }
  const inside = `${stateDir.replace(/\/+$/, '')}/`;
  return (data.loopdevices ?? [])
    .filter((l) => typeof l.name === 'string' && typeof l['back-file'] === 'string' && (l['back-file'] as string).startsWith(inside))
    .map((l) => l.name as string);
}

/** The cgroup (in each hierarchy) holding the prefix's containers (named by the runc driver, container-info.ts). */
export function cgroupName(prefix: string): string {
  checkPurgePrefix(prefix);
  return cgroupParentOf(prefix);
}

/**
 * Refuse to delete `dir` as a state dir unless it is one: absolute, not /, not a home directory or one
 * above it, holding state.db or daemon.json. `home` is $HOME; `has(name)` tests a file in dir.
 */
export function checkStateDirForRemoval(dir: string, home: string | undefined, has: (name: string) => boolean): void {
  const d = dir.replace(/\/+$/, '');
  if (d === '' && dir.startsWith('/')) throw invalid('refusing to delete /: it is not a nimbo state dir');
  if (!d.startsWith('/') || d.split('/').some((c) => c === '..' || c === '.')) throw invalid(`state dir ${JSON.stringify(dir)} must be an absolute path`);
  const h = (home ?? '').replace(/\/+$/, '');
  const protectedDirs = ['/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib64', '/opt', '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/var', '/var/lib', '/var/tmp'];
  if (protectedDirs.includes(d) || d.split('/').length < 3 || (h && (d === h || h.startsWith(`${d}/`)))) {
    throw invalid(`refusing to delete ${d}: it is a system or home directory, not a nimbo state dir`);
  }
  if (!has('state.db') && !has('daemon.json')) throw invalid(`refusing to delete ${d}: it holds neither state.db nor daemon.json, so it does not look like a nimbo state dir`);
}
