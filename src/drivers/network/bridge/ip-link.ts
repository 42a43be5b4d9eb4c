import type { HostExec } from '../../../host/exec.js';
import { HostCommandError, conflict } from '../../../lib/errors.js';
import { formatCidr, overlaps, parseCidr, parseIpv4 } from '../../../lib/ip.js';
import { formatCidr6, overlaps6, parseCidr6, parseIpv6 } from '../../../lib/ip6.js';
import { type VxlanState, parseVxlanInfo } from '../vxlan/vxlan.js';

/** What the driver needs to know about one network device. */
export interface LinkState {
  name: string;
  /** linkinfo.info_kind: "bridge", "tun", "veth", ...; null for plain devices. */
  kind: string | null;
  /** The bridge this device is enslaved to, if any. */
  master: string | null;
  /** Administratively up (the UP flag). */
  up: boolean;
  /** IPv4 addresses as "A.B.C.D/N". */
  ipv4: string[];
  /** IPv6 addresses of global scope (ULA included, link-local not) as "ADDR/N". */
  ipv6: string[];
  /** The MTU (0 when not reported). */
  mtu: number;
  /** VXLAN settings when kind is "vxlan", else null. */
  vxlan: VxlanState | null;
}

/** One device object of `ip -j -d addr|link show` output as a LinkState (pure). */
export function linkFromJson(d: Record<string, any>): LinkState {
  const addrs = (d.addr_info ?? []) as Array<{ family?: string; local?: string; prefixlen?: number; scope?: string }>;
  const kind: string | null = d.linkinfo?.info_kind ?? null;
  return {
    name: String(d.ifname),
    kind,
    master: d.master ?? null,
    up: Array.isArray(d.flags) && d.flags.includes('UP'),
    ipv4: addrs.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
    ipv6: addrs.filter((a) => a.family === 'inet6' && a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`),
    mtu: typeof d.mtu === 'number' ? d.mtu : 0,
    vxlan: kind === 'vxlan' ? parseVxlanInfo(d.linkinfo?.info_data) : null,
  };
}

/** Parse the output of `ip -j -d addr show dev NAME` (pure). */
export function parseLinkJson(stdout: string): LinkState | null {
  const arr = JSON.parse(stdout) as Array<Record<string, any>>;
  const d = arr[0];
  return d ? linkFromJson(d) : null;
}

/** The state of device `name`, or null when it does not exist. */
export async function showLink(exec: HostExec, name: string): Promise<LinkState | null> {
  const argv = ['ip', '-j', '-d', 'addr', 'show', 'dev', name];
  const res = await exec.run(argv, { allowFailure: true });
  if (res.code !== 0) {
    if (/does not exist/i.test(res.stderr)) return null;
    throw new HostCommandError(argv, res.code, res.stderr);
  }
  return parseLinkJson(res.stdout);
}

/** The ports of bridge `bridge` (`ip -j -d link show master BRIDGE`); empty when the bridge does not exist. */
export async function listPorts(exec: HostExec, bridge: string): Promise<LinkState[]> {
  const argv = ['ip', '-j', '-d', 'link', 'show', 'master', bridge];
  const res = await exec.run(argv, { allowFailure: true });
  if (res.code !== 0) {
    if (/does not exist|cannot find device/i.test(res.stderr)) return [];
    throw new HostCommandError(argv, res.code, res.stderr);
  }
  return (JSON.parse(res.stdout || '[]') as Array<Record<string, any>>).map(linkFromJson);
}

/** Routes (from `ip -j -4 route show table all`) on other devices that overlap `subnet` (pure). */
export function overlappingRoutes(routesJson: string, subnet: string, ownDev: string): string[] {
  const routes = JSON.parse(routesJson) as Array<{ dst?: string; dev?: string; type?: string }>;
  const hits: string[] = [];
  for (const r of routes) {
    if (!r.dst || r.dst === 'default' || r.dev === ownDev) continue;
    if (r.type && r.type !== 'unicast' && r.type !== 'local') continue;
    let dst: string;
    try {
      dst = r.dst.includes('/') ? formatCidr(parseCidr(r.dst, { strict: false })) : `${r.dst}/32`;
      if (!r.dst.includes('/')) parseIpv4(r.dst);
    } catch {
      continue; // not an IPv4 route we understand (e.g. multicast or blackhole keywords)
    }
    if (overlaps(dst, subnet)) hits.push(`${r.dst} dev ${r.dev ?? '?'}`);
  }
  return hits;
}

/** Throw Conflict when `subnet` collides with a route the host already has on another device. */
export async function assertSubnetFree(exec: HostExec, subnet: string, ownDev: string): Promise<void> {
  const res = await exec.run(['ip', '-j', '-4', 'route', 'show', 'table', 'all']);
  const hits = overlappingRoutes(res.stdout || '[]', subnet, ownDev);
  if (hits.length > 0) throw conflict(`subnet ${subnet} overlaps routes already on this host: ${hits.join('; ')}`);
}

/** IPv6 routes (from `ip -j -6 route show table all`) on other devices that overlap `subnet` (pure); link-local and multicast are ignored. */
export function overlappingRoutes6(routesJson: string, subnet: string, ownDev: string): string[] {
  const routes = JSON.parse(routesJson || '[]') as Array<{ dst?: string; dev?: string; type?: string }>;
  const hits: string[] = [];
  for (const r of routes) {
    if (!r.dst || r.dst === 'default' || r.dev === ownDev) continue;
    if (r.type && r.type !== 'unicast' && r.type !== 'local') continue;
    let dst: string;
    try {
      dst = r.dst.includes('/') ? formatCidr6(parseCidr6(r.dst, { strict: false })) : `${r.dst}/128`;
      const n = parseIpv6(dst.slice(0, dst.indexOf('/')));
      if (n >> 118n === 0x3fan || n >> 120n === 0xffn || dst === '::/0') continue; // fe80::/10, ff00::/8
    } catch {
      continue;
    }
    if (overlaps6(dst, subnet)) hits.push(`${r.dst} dev ${r.dev ?? '?'}`);
  }
  return hits;
}

/** Throw Conflict when the IPv6 `subnet` collides with a route the host already has on another device. */
export async function assertSubnet6Free(exec: HostExec, subnet: string, ownDev: string): Promise<void> {
  const res = await exec.run(['ip', '-j', '-6', 'route', 'show', 'table', 'all'], { allowFailure: true });
  if (res.code !== 0) return; // IPv6 disabled on this host: adding the address will say so
  const hits = overlappingRoutes6(res.stdout || '[]', subnet, ownDev);
  if (hits.length > 0) throw conflict(`IPv6 subnet ${subnet} overlaps routes already on this host: ${hits.join('; ')}`);
}
