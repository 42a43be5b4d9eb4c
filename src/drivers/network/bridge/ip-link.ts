import type { HostExec } from '../../../host/exec.js';
import { HostCommandError, conflict } from '../../../core/errors.js';
import { formatCidr, overlaps, parseCidr, parseIpv4 } from '../../../core/ip.js';

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
}

/** Parse the output of `ip -j -d addr show dev NAME` (pure). */
export function parseLinkJson(stdout: string): LinkState | null {
  const arr = JSON.parse(stdout) as Array<Record<string, any>>;
  const d = arr[0];
  if (!d) return null;
  const addrs = (d.addr_info ?? []) as Array<{ family?: string; local?: string; prefixlen?: number }>;
  return {
    name: String(d.ifname),
    kind: d.linkinfo?.info_kind ?? null,
    master: d.master ?? null,
    up: Array.isArray(d.flags) && d.flags.includes('UP'),
    ipv4: addrs.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
  };
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
