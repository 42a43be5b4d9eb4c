import type { HostExec } from '../../../host/exec.js';
import { isUla } from '../../../lib/ip6.js';
import type { NetworkSpec } from '../types.js';
import { validateNftTable, validateSpec } from '../validate.js';
import { type Fragment, renderRulesetRemoval } from './ruleset.js';

// The networks' part of the daemon's ruleset (chains prefixed net_): NAT, routing, isolation between
// networks, and what guests may reach on the host. Reference: nft(8), "Chains" (base chain types,
// hooks, priorities), "Sets", "Concatenations".
//
// Every base chain keeps `policy accept`: the host's own traffic is never touched, drops match nimbo
// bridges only. Other parts of the ruleset (security groups, forwards) have their own base chains on the
// same hooks; an accept here ends only this chain, a drop anywhere ends the packet.
//
// br_netfilter is loaded on these hosts: frames bridged between two ports of one nimbo bridge (guest to
// guest, or guest to a VXLAN port) also pass the inet forward hook, with iif = oif = the bridge. They are
// accepted first; per-port filtering of them is the security-group part's job (bridge family).
//
// Modes, per network (bridge B, IPv4 subnet S, optional IPv6 /64 S6):
//   nat       B -> elsewhere from S/S6 is forwarded; IPv4 (and IPv6 when S6 is a ULA) is masqueraded.
//             Into B: only replies (ct established/related) and DNATed connections (port forwards,
//             floating IPs).
//   routed    like nat but without masquerade, and anything addressed to S/S6 may enter B (the
//             security-group part filters per port, so inbound is open here by design).
//   isolated  nothing is forwarded into or out of B, DNAT included. (Forwards from the host itself,
//             e.g. on 127.0.0.1, still reach guests: they do not pass the forward hook.)
// Always: nothing addressed to 127.0.0.0/8 or ::1 enters from a nimbo bridge (dropped before NAT);
// nothing is forwarded between two nimbo networks (only DNATed connections into a nat/routed
// network: a published forward is public on purpose), and from a nimbo bridge the host itself answers
// only DHCP, DHCPv6, DNS on the network's own gateway, ICMP echo and ICMPv6 echo/ND/RS; anything else
// (the daemon's API port, SSH, ...) is dropped.
//
// Overlay (VXLAN) networks get a small bridge-family part: DHCP/DHCPv6 and router solicitations/adverts
// never cross a VXLAN port, so each host's dnsmasq serves (and routes) only the guests on that host
// while the guests share one L2 segment across hosts (see vxlan/ for the two-host layout).

const q = (s: string) => `"${s}"`;
const set = (items: string[]) => (items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`);
const ifset = (names: string[]) => set(names.map(q));
const anon = (items: string[]) => `{ ${items.join(', ')} }`;
const byBridge = (a: NetworkSpec, b: NetworkSpec) => (a.bridge < b.bridge ? -1 : a.bridge > b.bridge ? 1 : 0);
const chain = (name: string, head: string | null, rules: string[]) => [
  `\tchain ${name} {`,
  ...(head ? [`\t\t${head}`] : []),
  ...rules.map((r) => `\t\t${r}`),
  '\t}',
];

/**
 * The networks' fragment of the daemon's ruleset (validates every spec; bridge part only for VXLAN networks).
 * `inputAccepts`: more guest-to-host accepts, placed before net_input's final drop (the metadata service's).
 */
export function renderNetworkFragment(nets: NetworkSpec[], inputAccepts: string[] = []): Fragment {
  const sorted = nets.map(validateSpec).sort(byBridge);
  if (sorted.length === 0) return { inet: [], bridge: [] };
  const all = sorted.map((n) => n.bridge);
  const open = sorted.filter((n) => n.mode !== 'isolated');
  const isolated = sorted.filter((n) => n.mode === 'isolated').map((n) => n.bridge);
  const v6 = sorted.filter((n) => n.ipv6);

  const post: string[] = [];
  for (const n of sorted) {
    if (n.mode !== 'nat') continue;
    const c = q(`nimbo network ${n.name}`);
    post.push(`ip saddr ${n.subnet} oifname != ${q(n.bridge)} masquerade comment ${c}`);
    if (n.ipv6 && isUla(n.ipv6.subnet)) post.push(`ip6 saddr ${n.ipv6.subnet} oifname != ${q(n.bridge)} masquerade comment ${c}`);
  }

  const fwd: string[] = [];
  // Bridged between ports of one bridge (guests, VXLAN port): br_netfilter shows iif = oif = bridge.
  for (const b of all) fwd.push(`iifname ${q(b)} oifname ${q(b)} accept`);
  if (isolated.length > 0) fwd.push(`iifname ${ifset(isolated)} drop`, `oifname ${ifset(isolated)} drop`);
  if (open.length > 0) fwd.push(`oifname ${ifset(open.map((n) => n.bridge))} ct status dnat accept`);
  if (all.length > 1) fwd.push(`iifname ${ifset(all)} oifname ${ifset(all)} drop`);
  for (const n of open) {
    const b = q(n.bridge);
    fwd.push(`iifname ${b} ip saddr ${n.subnet} accept`);
    if (n.ipv6) fwd.push(`iifname ${b} ip6 saddr ${n.ipv6.subnet} accept`);
    // Spoofed sources, and other protocols, go nowhere.
    fwd.push(`iifname ${b} drop`);
    fwd.push(`oifname ${b} ct state established,related accept`);
    if (n.mode === 'routed') {
      fwd.push(`oifname ${b} ip daddr ${n.subnet} accept`);
      if (n.ipv6) fwd.push(`oifname ${b} ip6 daddr ${n.ipv6.subnet} accept`);
    }
    fwd.push(`oifname ${b} drop`);
  }

  const on = `iifname ${ifset(all)}`;
  // Before conntrack and any address rewrite (priority raw): nothing arriving on a nimbo bridge may be
  // addressed to the host's loopback. The bridges carry route_localnet=1 while a forward listens on
  // 127/8 (see fwd-render.ts), which would let a guest reach 127.0.0.1 services and loopback forwards.
  const guard = [`${on} ip daddr 127.0.0.0/8 drop`, `${on} ip6 daddr ::1 drop`];
  const inp: string[] = [`${on} ct state established,related accept`, `${on} udp dport 67 accept`];
  if (v6.length > 0) inp.push(`iifname ${ifset(v6.map((n) => n.bridge))} udp dport 547 accept`);
  // DNS only on the network's own gateway: a guest cannot query (the names of) another network.
  inp.push(`iifname . ip daddr ${anon(sorted.map((n) => `${q(n.bridge)} . ${n.gateway}`))} meta l4proto { tcp, udp } th dport 53 accept`);
  if (v6.length > 0) {
    inp.push(`iifname . ip6 daddr ${anon(v6.map((n) => `${q(n.bridge)} . ${n.ipv6!.gateway}`))} meta l4proto { tcp, udp } th dport 53 accept`);
  }
  inp.push(`${on} icmp type echo-request accept`);
  if (v6.length > 0) {
    inp.push(`iifname ${ifset(v6.map((n) => n.bridge))} icmpv6 type { echo-request, nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept`);
  }
  inp.push(...inputAccepts);
  inp.push(`${on} drop`);

  const inet = [
    ...chain('net_loopback_guard', 'type filter hook prerouting priority raw; policy accept;', guard),
    ...chain('net_postrouting', 'type nat hook postrouting priority srcnat; policy accept;', post),
    ...chain('net_forward', 'type filter hook forward priority filter; policy accept;', fwd),
    ...chain('net_input', 'type filter hook input priority filter; policy accept;', inp),
  ];

  const vx = sorted.filter((n) => n.vxlan).map((n) => n.vxlan!.device);
  const bridge =
    vx.length === 0
      ? []
      : [
          ...chain('net_overlay_local', null, [
            'meta l4proto udp th dport { 67, 68, 546, 547 } drop',
            'icmpv6 type { nd-router-solicit, nd-router-advert } drop',
          ]),
          ...chain('net_overlay_forward', 'type filter hook forward priority filter; policy accept;', [
            `iifname ${ifset(vx)} jump net_overlay_local`,
            `oifname ${ifset(vx)} jump net_overlay_local`,
          ]),
          ...chain('net_overlay_input', 'type filter hook input priority filter; policy accept;', [`iifname ${ifset(vx)} jump net_overlay_local`]),
          ...chain('net_overlay_output', 'type filter hook output priority filter; policy accept;', [`oifname ${ifset(vx)} jump net_overlay_local`]),
        ];
  return { inet, bridge };
}

/** Apply an nft script atomically (`nft -f -`, script on stdin). */
export async function apply(exec: HostExec, script: string): Promise<void> {
  await exec.run(['nft', '-f', '-'], { input: script });
}

/** Delete both tables of this daemon (inet and bridge); no error when they do not exist. */
export async function removeTable(exec: HostExec, table: string): Promise<void> {
  await apply(exec, renderRulesetRemoval(table));
}

/** True when the daemon's table of this family (default inet) exists. */
export async function tableExists(exec: HostExec, table: string, family: 'inet' | 'bridge' = 'inet'): Promise<boolean> {
  validateNftTable(table);
  const res = await exec.run(['nft', 'list', 'table', family, table], { allowFailure: true });
  return res.code === 0;
}
