import { join } from 'node:path';
import { netmaskOf, networkOf, parseIpv4 } from '../../../core/ip.js';
import type { NetworkSpec, Reservation } from '../types.js';

// Pure renderers for one dnsmasq instance per network. Reference: dnsmasq(8), version 2.90.
// Only reserved MACs get a lease ("static" dhcp-range); dhcp-hostsfile and addn-hosts are re-read on SIGHUP,
// the main config is not (changing it needs a restart).

/** Where one network's dnsmasq files live inside its state directory. */
export interface DnsmasqPaths {
  conf: string;
  dhcpHosts: string;
  addnHosts: string;
  leases: string;
  pid: string;
}

/** The file paths of a network's dnsmasq instance under `stateDir`. */
export function dnsmasqPaths(stateDir: string): DnsmasqPaths {
  return {
    conf: join(stateDir, 'dnsmasq.conf'),
    dhcpHosts: join(stateDir, 'dhcp-hosts'),
    addnHosts: join(stateDir, 'addn-hosts'),
    leases: join(stateDir, 'leases'),
    pid: join(stateDir, 'dnsmasq.pid'),
  };
}

/** Render dnsmasq.conf for a validated network spec (DNS + static-only DHCP on its bridge). */
export function renderDnsmasqConf(spec: NetworkSpec): string {
  const p = dnsmasqPaths(spec.stateDir);
  return [
    `# nimbo network ${spec.name}: generated, do not edit`,
    '# DNS: only on the gateway address of the bridge, never on lo or other interfaces',
    'port=53',
    `interface=${spec.bridge}`,
    'except-interface=lo',
    `listen-address=${spec.gateway}`,
    'bind-interfaces',
    'no-hosts',
    'domain-needed',
    'bogus-priv',
    `domain=${spec.domain}`,
    `local=/${spec.domain}/`,
    'expand-hosts',
    `addn-hosts=${p.addnHosts}`,
    '# DHCP: static mode, so only MACs listed in the hosts file get a lease',
    `dhcp-range=${networkOf(spec.subnet)},static,${netmaskOf(spec.subnet)},12h`,
    `dhcp-hostsfile=${p.dhcpHosts}`,
    `dhcp-leasefile=${p.leases}`,
    'dhcp-authoritative',
    // Without NAT the network is isolated: send no default route (an empty option 3 suppresses it).
    spec.nat ? `dhcp-option=option:router,${spec.gateway}` : 'dhcp-option=option:router',
    `dhcp-option=option:dns-server,${spec.gateway}`,
    `pid-file=${p.pid}`,
    '',
  ].join('\n');
}

/** Reservations ordered by address, so the rendered files do not depend on input order. */
function byAddress(reservations: Reservation[]): Reservation[] {
  return [...reservations].sort((a, b) => parseIpv4(a.ip) - parseIpv4(b.ip));
}

/** Render the dhcp-hostsfile: one `mac,ip,hostname` line per (validated) reservation. */
export function renderDhcpHosts(reservations: Reservation[]): string {
  return ['# nimbo: static DHCP leases (mac,ip,hostname)', ...byAddress(reservations).map((r) => `${r.mac},${r.ip},${r.hostname}`), ''].join('\n');
}

/** Render the addn-hosts file: `ip hostname.domain hostname` per (validated) reservation. */
export function renderAddnHosts(reservations: Reservation[], domain: string): string {
  return ['# nimbo: guest names', ...byAddress(reservations).map((r) => `${r.ip} ${r.hostname}.${domain} ${r.hostname}`), ''].join('\n');
}
