import type { Fragment } from './ruleset.js';
import { validateFirewall, type Port, type SecurityGroup } from './sg-model.js';
import { byKey, renderBridgePart } from './sg-render-bridge.js';
import { byAddr, renderInetPart } from './sg-render-inet.js';

/*
 * Security groups and anti-spoofing for instance ports: the `sg_` fragment of the daemon's ruleset
 * (ruleset.ts puts it into `table inet T` and `table bridge T`, replaced in one `nft -f -` transaction).
 *
 * Why two halves: security groups must be stateful, and `ct state` is refused in a bridge table on a
 * kernel without nf_conntrack_bridge (EPROTO). With br_netfilter, bridged IPv4/IPv6 frames pass the
 * inet prerouting/forward/postrouting hooks, where conntrack works, but there iifname/oifname are the
 * bridge, not the port. So the bridge half makes addresses trustworthy (stateless anti-spoofing per
 * tap) and the inet half filters by address, statefully. Conntrack entries live outside the table:
 * replacing the ruleset keeps established connections, and a rule change applies to new ones at once.
 *
 * bridge (sg-render-bridge.ts), base chain sg_prerouting, hook prerouting priority -200 (before
 * br_netfilter's 0): frames from a managed tap must carry its MAC (Ethernet and ARP sender), its IPv4
 * addresses (IP and ARP sender; DHCP discover from 0.0.0.0 and ARP probes excepted), its IPv6 addresses
 * (link-local and :: free; neighbor advertisements may claim only those too); only ip/arp/ip6
 * ethertypes; no DHCP/DHCPv6 server replies, router advertisements or redirects from guests.
 *   set sg_ports           ifname                   every managed tap
 *   set sg_port_mac        ifname . ether_addr      its MAC
 *   set sg_port_ipv4/ipv6  ifname . ipvX_addr       its addresses
 *   set sg_port_nd_target  iifname . @th,64,128     its IPv6 addresses as ND targets
 *
 * inet (sg-render-inet.ts), keyed by port addresses (every lookup is a set/map lookup: the number of
 * rules grows with groups and ports, never with security-group rules, which only add set elements):
 *   set sg_addr4/sg_addr6      every port address
 *   map sg_in4/sg_in6          port address -> jump sg_pN_in (drop for a port without groups)
 *   map sg_out4/sg_out6        address of a port whose groups have egress rules -> jump sg_pN_out
 *   per group gN (by name), direction D (in, out), family F (4, 6):
 *     sets sg_gN_DF_l4 (addr . proto . port, tcp/udp), sg_gN_DF_icmp, sg_gN_DF_all (addr), intervals
 *     chain sg_gN_D: six lookups (peer = saddr for in, daddr for out), accept on a match
 *   per port pN (by tap): sg_pN_in jumps to its groups; sg_pN_out to its groups with egress rules, then drop
 *   sg_forward_out (forward, filter)  established/related accept; from a port address: sg_from_port
 *   sg_forward_in (forward, filter+1) established/related accept; to a port address: sg_to_port
 *   sg_input (input)                  guest -> host: like sg_forward_out, DHCP requests excepted
 *   sg_output (output)                host -> guest: like sg_forward_in, DHCP replies excepted
 *   sg_from_port: ND/RS accept; invalid drop; `ip saddr vmap @sg_out4`, `ip6 saddr vmap @sg_out6`
 *   sg_to_port:   ND/RA accept; invalid drop; `ip daddr vmap @sg_in4`, `ip6 daddr vmap @sg_in6`; drop
 * ND is accepted only with hop limit 255 (on-link by construction); conntrack calls ND invalid.
 *
 * Group peers expand to the IPv4 and IPv6 addresses of the ports attached to the group; a rule without
 * a peer matches both families. Overlapping rules are merged into disjoint elements (the kernel refuses
 * overlapping elements in interval sets). Traffic to a guest's link-local IPv6 addresses is not
 * filtered unless they are listed in the port's `ipv6`.
 */

/**
 * Render the security-group fragment: anti-spoofing for every port (bridge), stateful default-deny
 * inbound and default-allow outbound (default-deny once a port's groups have egress rules) by address
 * (inet). Validates its input; pure and deterministic: the same groups and ports in any order give the
 * same lines. Every set, map and chain name starts with `sg_`.
 */
export function renderSecurityFragment(groups: SecurityGroup[], ports: Port[]): Fragment {
  const v = validateFirewall(groups, ports);
  const gs = [...v.groups].sort(byKey((g) => g.name));
  const ps = [...v.ports]
    .sort(byKey((p) => p.tap))
    .map((p) => ({ ...p, ipv4: [...p.ipv4].sort(byAddr), ipv6: [...p.ipv6].sort(byAddr), groups: [...p.groups].sort() }));
  return { inet: renderInetPart(gs, ps), bridge: renderBridgePart(ps) };
}
