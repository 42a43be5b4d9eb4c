import type { HostExec } from '../../../host/exec.js';
import type { NetFs } from '../host-fs.js';
import { validateIfName } from '../validate.js';

// The kernel settings the networks need, written through NetFs into /proc/sys (of the network namespace
// the daemon runs in). Each is written only when it differs, so a converged host sees no writes.

/** Write `value` to a /proc/sys file when it exists and holds something else; false when it does not exist. */
export async function setSysctl(fs: NetFs, path: string, value: string): Promise<boolean> {
  const now = await fs.readText(path);
  if (now === null) return false;
  if (now.trim() !== value) await fs.writeInPlace(path, `${value}\n`);
  return true;
}

/** Turn on IPv4 forwarding (needed by nat and routed networks); never turned off again, other software may rely on it. */
export async function enableIpForward(fs: NetFs): Promise<void> {
  const path = '/proc/sys/net/ipv4/ip_forward';
  if ((await fs.readText(path))?.trim() !== '1') await fs.writeInPlace(path, '1\n');
}

/** Devices that hold an IPv6 default route (`ip -j -6 route show default`, pure). */
export function defaultRouteDevices6(routesJson: string): string[] {
  const routes = JSON.parse(routesJson || '[]') as Array<{ dst?: string; dev?: string; nexthops?: Array<{ dev?: string }> }>;
  const devs = new Set<string>();
  for (const r of routes) {
    if (r.dst !== 'default') continue;
    if (r.dev) devs.add(r.dev);
    for (const h of r.nexthops ?? []) if (h.dev) devs.add(h.dev);
  }
  return [...devs].sort();
}

/**
 * Turn on IPv6 forwarding (net.ipv6.conf.all.forwarding, for non-isolated IPv6 networks); never turned
 * off again. A forwarding host ignores router advertisements on every interface whose accept_ra is 1
 * (the default), so a host that learns its own IPv6 default route by SLAAC/RA would lose it once the
 * RA lifetime runs out. Before switching, every device holding an IPv6 default route with accept_ra=1
 * is set to accept_ra=2 ("accept RAs even when forwarding"); accept_ra=0 (static setup) is left alone.
 */
export async function enableIpv6Forward(fs: NetFs, exec: HostExec): Promise<void> {
  const all = '/proc/sys/net/ipv6/conf/all/forwarding';
  if ((await fs.readText(all))?.trim() === '1') return;
  const res = await exec.run(['ip', '-j', '-6', 'route', 'show', 'default'], { allowFailure: true });
  if (res.code === 0) {
    for (const dev of defaultRouteDevices6(res.stdout)) {
      try {
        validateIfName(dev);
      } catch {
        continue; // not a name we would put into a path
      }
      const path = `/proc/sys/net/ipv6/conf/${dev}/accept_ra`;
      if ((await fs.readText(path))?.trim() === '1') await fs.writeInPlace(path, '2\n');
    }
  }
  await fs.writeInPlace(all, '1\n');
}

/**
 * net.ipv4.conf.BRIDGE.route_localnet: 1 while a port forward listens on 127.0.0.0/8 (the host's own
 * connections to it are DNATed to a guest and leave through the bridge with source 127.x, which the
 * kernel otherwise drops as martian), 0 otherwise. Only nimbo's own bridges are touched; a bridge that
 * does not exist (yet) is skipped.
 */
export async function setRouteLocalnet(fs: NetFs, bridge: string, on: boolean): Promise<void> {
  validateIfName(bridge, 'bridge name');
  await setSysctl(fs, `/proc/sys/net/ipv4/conf/${bridge}/route_localnet`, on ? '1' : '0');
}
