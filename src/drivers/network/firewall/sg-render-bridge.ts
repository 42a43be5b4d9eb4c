import { parseIpv6, type Port } from './sg-model.js';

// The bridge half of the security-group fragment (anti-spoofing per port, stateless), and the nft text
// helpers both halves share. See sg-render.ts for the whole picture.

export const q = (s: string) => `"${s}"`;
export const byKey = <T>(key: (x: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

/**
 * Render a named set or map (`decl` is its "type ..." or "typeof ..." line); elements one per line, in
 * the caller's order, none when empty.
 */
export function renderSet(name: string, decl: string, flags: string | null, elements: string[], kind: 'set' | 'map' = 'set'): string[] {
  const head = [`\t${kind} ${name} {`, `\t\t${decl}`];
  if (flags) head.push(`\t\tflags ${flags}`);
  if (elements.length > 0) head.push('\t\telements = {', ...elements.map((e, i) => `\t\t\t${e}${i + 1 < elements.length ? ',' : ''}`), '\t\t}');
  return [...head, '\t}'];
}

/** Render a chain (a base chain when `head` is its "type ... hook ..." line), with an optional comment above. */
export function renderChain(name: string, rules: string[], head?: string, comment?: string): string[] {
  return [
    ...(comment ? [`\t# ${comment}`] : []),
    `\tchain ${name} {`,
    ...(head ? [`\t\t${head}`] : []),
    ...rules.map((r) => `\t\t${r}`),
    '\t}',
  ];
}

/** The fixed rules of sg_prerouting (bridge family, priority -200: before br_netfilter hands frames to the IP hooks). */
export const BRIDGE_PREROUTING_RULES = [
  // Frames from anything but a managed tap (uplinks, VXLAN, the host) are not ours to check.
  'iifname != @sg_ports accept',
  'iifname . ether saddr != @sg_port_mac drop',
  // No VLAN tags, no other ethertypes (0x8100 is what a tagged frame shows here).
  'ether type != { ip, arp, ip6 } drop',
  'ether type arp iifname . arp saddr ether != @sg_port_mac drop',
  // ARP probes (RFC 5227) have sender IP 0.0.0.0.
  'ether type arp arp saddr ip 0.0.0.0 accept',
  'ether type arp iifname . arp saddr ip != @sg_port_ipv4 drop',
  // DHCP discover/request before the guest has an address.
  'ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept',
  'ether type ip iifname . ip saddr != @sg_port_ipv4 drop',
  // IPv6: link-local and the unspecified address (DAD) are free; global sources must be the port's.
  'ip6 saddr != { ::, fe80::/10 } iifname . ip6 saddr != @sg_port_ipv6 drop',
  // Neighbor advertisements (the IPv6 ARP reply) may only claim link-local targets or the port's own
  // addresses. nft 1.0.6 has no `icmpv6 taddr`: the target is the 128 bits at offset 64 of the ICMPv6 header.
  'icmpv6 type nd-neighbor-advert @th,64,16 & 0xffc0 != 0xfe80 iifname . @th,64,128 != @sg_port_nd_target drop',
  // Guests are never DHCP/DHCPv6 servers or routers.
  'udp sport { 67, 547 } drop',
  'icmpv6 type { nd-router-advert, nd-redirect } drop',
  'icmp type redirect drop',
];

const ipv6Hex = (a: string) => `0x${parseIpv6(a).toString(16).padStart(32, '0')}`;

/** The bridge part: per-port sets (validated, sorted ports with sorted addresses) and sg_prerouting. */
export function renderBridgePart(ports: Port[]): string[] {
  const pairs = (f: (p: Port) => string[]) => ports.flatMap((p) => f(p).map((x) => `${q(p.tap)} . ${x}`));
  return [
    '\t# security groups, layer 2: frames from a guest carry its own MAC and addresses (no conntrack here)',
    ...renderSet('sg_ports', 'type ifname', null, ports.map((p) => q(p.tap))),
    ...renderSet('sg_port_mac', 'type ifname . ether_addr', null, pairs((p) => [p.mac])),
    ...renderSet('sg_port_ipv4', 'type ifname . ipv4_addr', null, pairs((p) => p.ipv4)),
    ...renderSet('sg_port_ipv6', 'type ifname . ipv6_addr', null, pairs((p) => p.ipv6)),
    ...renderSet('sg_port_nd_target', 'typeof iifname . @th,64,128', null, pairs((p) => p.ipv6.map(ipv6Hex))),
    ...renderChain('sg_prerouting', BRIDGE_PREROUTING_RULES, 'type filter hook prerouting priority -200; policy accept;', 'frames from a guest: anti-spoofing'),
  ];
}
