import { join } from 'node:path';
import { netmaskOf, networkOf, parseIpv4 } from '../../../lib/ip.js';
import { parseIpv6 } from '../../../lib/ip6.js';
import type { NetworkSpec, Reservation } from '../types.js';
import { VXLAN_MTU } from '../vxlan/vxlan.js';

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

/** Render dnsmasq.conf for a validated network spec (DNS + static-only DHCP on its bridge; RA + stateless DHCPv6 with IPv6). */
export function renderDnsmasqConf(spec: NetworkSpec): string {
  const p = dnsmasqPaths(spec.stateDir);
  const v6 = spec.ipv6;
  const isolated = spec.mode === 'isolated';
  const lines = [
    `# nimbo network ${spec.name}: generated, do not edit`,
    '# DNS: only on the gateway address(es) of the bridge, never on lo or other interfaces',
    'port=53',
    `interface=${spec.bridge}`,
    'except-interface=lo',
    `listen-address=${spec.gateway}`,
    ...(v6 ? [`listen-address=${v6.gateway}`] : []),
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
    // An isolated network has no way out: send no default route (an empty option 3 suppresses it).
    isolated ? 'dhcp-option=option:router' : `dhcp-option=option:router,${spec.gateway}`,
    `dhcp-option=option:dns-server,${spec.gateway}`,
    // The VXLAN header takes 50 bytes of the underlay's 1500.
    ...(spec.vxlan ? [`dhcp-option=option:mtu,${VXLAN_MTU}`] : []),
  ];
  if (v6) {
    const prefix = v6.subnet.slice(0, v6.subnet.indexOf('/'));
    // ra-param=IF,[mtu:N,]INTERVAL[,ROUTER-LIFETIME]: interval 0 = dnsmasq's default; lifetime 0 = no default route.
    const raParams = [...(spec.vxlan ? [`mtu:${VXLAN_MTU}`] : []), '0', ...(isolated ? ['0'] : [])];
    lines.push(
      '# IPv6: router advertisements for SLAAC; stateless DHCPv6 only for DNS (addresses come from SLAAC)',
      'enable-ra',
      `dhcp-range=${prefix},ra-stateless,64,12h`,
      ...(isolated || spec.vxlan ? [`ra-param=${spec.bridge},${raParams.join(',')}`] : []),
      `dhcp-option=option6:dns-server,[${v6.gateway}]`,
    );
  }
  lines.push(`pid-file=${p.pid}`, '');
  return lines.join('\n');
}

/** Reservations ordered by address, so the rendered files do not depend on input order. */
function byAddress(reservations: Reservation[]): Reservation[] {
  return [...reservations].sort((a, b) => parseIpv4(a.ip) - parseIpv4(b.ip));
}

/** Render the dhcp-hostsfile: one `mac,ip,hostname` line per (validated) reservation. */
export function renderDhcpHosts(reservations: Reservation[]): string {
  return ['# nimbo: static DHCP leases (mac,ip,hostname)', ...byAddress(reservations).map((r) => `${r.mac},${r.ip},${r.hostname}`), ''].join('\n');
}

/** Render the addn-hosts file: `ip hostname.domain hostname` per (validated) reservation, then AAAA lines for IPv6. */
export function renderAddnHosts(reservations: Reservation[], domain: string): string {
  const sorted = byAddress(reservations);
  const v6 = sorted.filter((r) => r.ipv6).sort((a, b) => (parseIpv6(a.ipv6!) < parseIpv6(b.ipv6!) ? -1 : 1));
  return [
    '# nimbo: guest names',
    ...sorted.map((r) => `${r.ip} ${r.hostname}.${domain} ${r.hostname}`),
    ...v6.map((r) => `${r.ipv6} ${r.hostname}.${domain} ${r.hostname}`),
    '',
  ].join('\n');
}
