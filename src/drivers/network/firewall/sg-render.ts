import { parseCidr, parseIpv4, formatIpv4 } from '../../../core/ip.js';
import { validateNftTable } from '../validate.js';
import { validateFirewall, type Peer, type Port, type Rule, type SecurityGroup } from './sg-model.js';

/*
 * Security groups and anti-spoofing for instance ports: one nft table of family `bridge`, rendered
 * from data by a pure function and applied atomically with `nft -f -` (the script first creates and
 * deletes the table, then declares it whole, so re-applying never duplicates anything).
 *
 * Why `bridge`: guest-to-guest traffic on one nimbo bridge never reaches the IP stack, so only the
 * bridge family sees every frame per port (iifname/oifname are the taps) without br_netfilter, and it
 * sees ARP and the Ethernet source, which anti-spoofing needs. Conntrack for `ct state` comes from
 * nf_conntrack_bridge (loaded on demand by the kernel); all base chains use priority 0, after it (-200).
 *
 * Layout (all lookups are set/map lookups; the number of rules depends on the number of groups and
 * ports, never on the number of security-group rules, which only grow set elements):
 *
 *   set ports        ifname                    every managed tap
 *   set port_mac     ifname . ether_addr       allowed source MAC per tap
 *   set port_ipv4    ifname . ipv4_addr        allowed source IPv4 per tap (IP and ARP)
 *   map port_in      ifname : verdict          tap -> jump pN_in  (taps with at least one group)
 *   map port_out     ifname : verdict          tap -> jump pN_out (taps whose groups have egress rules)
 *   per group gN (groups sorted by name), per direction D in {in, out}:
 *     set gN_D_l4    ipv4_addr . inet_proto . inet_service, interval   tcp/udp rules (no ports = 0-65535)
 *     set gN_D_icmp  ipv4_addr, interval                                icmp rules
 *     set gN_D_all   ipv4_addr, interval                                protocol any
 *     chain gN_D     three lookups (peer = ip saddr for in, ip daddr for out), accept on a match
 *   per port pN (ports sorted by tap): chain pN_in / pN_out = one jump per attached group
 *                                      (pN_out ends in drop: egress rules make egress default-deny)
 *
 *   prerouting (frames FROM a guest):  non-port -> accept; wrong MAC, non IP/ARP/IPv6 ethertype (VLAN
 *     tags too), wrong ARP sender, wrong IPv4 source -> drop (DHCP discover from 0.0.0.0 and ARP probes
 *     excepted); DHCP/DHCPv6 server replies, router advertisements and redirects -> drop; ARP and ND ->
 *     accept; established/related -> accept; then `iifname vmap @port_out`; otherwise accept.
 *   forward + output (frames TO a guest, from other guests or from the host): `oifname @ports jump
 *     to_port`: established/related, ARP, ND, RAs and DHCP replies (guests cannot send those, see
 *     above) -> accept; then `oifname vmap @port_in`; otherwise drop (default inbound deny).
 *
 * Group peers expand to the IPv4 addresses of the ports attached to that group. Overlapping rules are
 * merged into disjoint elements here (the kernel refuses overlapping elements in interval sets).
 * IPv4 only: IPv6 from a guest is checked for its MAC and RA/DHCPv6 only; inbound IPv6 to a port is
 * denied except ND/RA and established flows; egress-restricted ports get no IPv6 out.
 */

/** An inclusive uint32 address range. */
type Range = [number, number];

interface Box {
  addr: Range;
  port: Range;
}

function rangeOf(cidr: string): Range {
  const c = parseCidr(cidr);
  return [c.network, c.network + 2 ** (32 - c.prefix) - 1];
}

/** Union of ranges as sorted, disjoint, non-adjacent ranges. */
function mergeRanges(rs: Range[]): Range[] {
  const sorted = [...rs].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

/** Union of address x port boxes as disjoint boxes (sweep over address boundaries). */
function disjointBoxes(boxes: Box[]): Box[] {
  if (boxes.length === 0) return [];
  const cuts = [...new Set(boxes.flatMap((b) => [b.addr[0], b.addr[1] + 1]))].sort((a, b) => a - b);
  const out: { addr: Range; ports: Range[] }[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const lo = cuts[i]!;
    const hi = cuts[i + 1]! - 1;
    const ports = mergeRanges(boxes.filter((b) => b.addr[0] <= lo && b.addr[1] >= hi).map((b) => b.port));
    if (ports.length === 0) continue;
    const last = out[out.length - 1];
    if (last && last.addr[1] + 1 === lo && JSON.stringify(last.ports) === JSON.stringify(ports)) last.addr[1] = hi;
    else out.push({ addr: [lo, hi], ports });
  }
  return out.flatMap((s) => s.ports.map((port) => ({ addr: s.addr, port })));
}

/** An address range as nft text: an address, a CIDR block when it is one, else "A-B". */
function addrText([lo, hi]: Range): string {
  if (lo === hi) return formatIpv4(lo);
  const size = hi - lo + 1;
  const prefix = 32 - Math.log2(size);
  if (Number.isInteger(prefix) && lo % size === 0) return `${formatIpv4(lo)}/${prefix}`;
  return `${formatIpv4(lo)}-${formatIpv4(hi)}`;
}

const portText = ([lo, hi]: Range) => (lo === hi ? `${lo}` : `${lo}-${hi}`);
const q = (s: string) => `"${s}"`;
const byKey = <T>(key: (x: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

/** Render a named set; elements one per line (sorted by the caller), none when empty. */
function renderSet(name: string, type: string, flags: string | null, elements: string[]): string[] {
  const head = [`\tset ${name} {`, `\t\ttype ${type}`];
  if (flags) head.push(`\t\tflags ${flags}`);
  if (elements.length > 0) head.push(`\t\telements = {`, ...elements.map((e, i) => `\t\t\t${e}${i + 1 < elements.length ? ',' : ''}`), '\t\t}');
  return [...head, '\t}'];
}

function renderChain(name: string, rules: string[], head?: string, comment?: string): string[] {
  return [
    ...(comment ? [`\t# ${comment}`] : []),
    `\tchain ${name} {`,
    ...(head ? [`\t\t${head}`] : []),
    ...rules.map((r) => `\t\t${r}`),
    '\t}',
  ];
}

/** The IPv4 ranges a peer stands for (group peers: the addresses of the ports attached to the group). */
function peerRanges(peer: Peer | undefined, members: Map<string, string[]>): Range[] {
  if (peer === undefined) return [[0, 0xffffffff]];
  if (typeof peer === 'string') return [rangeOf(peer)];
  return (members.get(peer.group) ?? []).map((a): Range => [parseIpv4(a), parseIpv4(a)]);
}

/** Set elements of one group for one direction. */
function compileRules(rules: Rule[], members: Map<string, string[]>) {
  const l4: Record<'tcp' | 'udp', Box[]> = { tcp: [], udp: [] };
  const icmp: Range[] = [];
  const all: Range[] = [];
  for (const r of rules) {
    const addrs = peerRanges(r.direction === 'ingress' ? r.source : r.destination, members);
    if (r.protocol === 'tcp' || r.protocol === 'udp') {
      const port: Range = r.ports ? [r.ports.from, r.ports.to] : [0, 65535];
      for (const addr of addrs) l4[r.protocol].push({ addr, port });
    } else if (r.protocol === 'icmp') icmp.push(...addrs);
    else all.push(...addrs);
  }
  const l4Elements = (['tcp', 'udp'] as const).flatMap((proto) =>
    disjointBoxes(l4[proto]).map((b) => `${addrText(b.addr)} . ${proto} . ${portText(b.port)}`),
  );
  return { l4: l4Elements, icmp: mergeRanges(icmp).map(addrText), all: mergeRanges(all).map(addrText) };
}

/**
 * Render the whole security-group table: anti-spoofing for every port, stateful default-deny inbound,
 * default-allow outbound (default-deny once a port's groups have egress rules), group rules as sets.
 * Pure and deterministic: the same groups and ports (in any order) give the same script.
 */
export function renderSecurityRuleset(table: string, groups: SecurityGroup[], ports: Port[]): string {
  validateNftTable(table);
  const v = validateFirewall(groups, ports);
  const gs = [...v.groups].sort(byKey((g) => g.name));
  const ps = [...v.ports].sort(byKey((p) => p.tap));
  const gIndex = new Map(gs.map((g, i) => [g.name, i]));
  const members = new Map<string, string[]>();
  for (const p of ps) for (const g of p.groups) members.set(g, [...(members.get(g) ?? []), ...p.ipv4]);
  const egressGroups = new Set(gs.filter((g) => g.rules.some((r) => r.direction === 'egress')).map((g) => g.name));

  const sets: string[] = [];
  const chains: string[] = [];
  sets.push(...renderSet('ports', 'ifname', null, ps.map((p) => q(p.tap))));
  sets.push(...renderSet('port_mac', 'ifname . ether_addr', null, ps.map((p) => `${q(p.tap)} . ${p.mac}`)));
  const ipv4 = ps.flatMap((p) => [...p.ipv4].sort((a, b) => parseIpv4(a) - parseIpv4(b)).map((a) => `${q(p.tap)} . ${a}`));
  sets.push(...renderSet('port_ipv4', 'ifname . ipv4_addr', null, ipv4));
  const inPorts = ps.map((p, i) => ({ p, i })).filter(({ p }) => p.groups.length > 0);
  const outPorts = inPorts.filter(({ p }) => p.groups.some((g) => egressGroups.has(g)));
  const vmap = (name: string, entries: { p: Port; i: number }[], dir: string) => [
    `\tmap ${name} {`,
    '\t\ttype ifname : verdict',
    ...(entries.length > 0 ? [`\t\telements = { ${entries.map(({ p, i }) => `${q(p.tap)} : jump p${i}_${dir}`).join(', ')} }`] : []),
    '\t}',
  ];
  sets.push(...vmap('port_in', inPorts, 'in'), ...vmap('port_out', outPorts, 'out'));

  gs.forEach((g, i) => {
    for (const [dir, direction, peer] of [['in', 'ingress', 'saddr'], ['out', 'egress', 'daddr']] as const) {
      const c = compileRules(g.rules.filter((r) => r.direction === direction), members);
      const n = `g${i}_${dir}`;
      sets.push(
        `\t# group ${g.name}, ${direction}`,
        ...renderSet(`${n}_l4`, 'ipv4_addr . inet_proto . inet_service', 'interval', c.l4),
        ...renderSet(`${n}_icmp`, 'ipv4_addr', 'interval', c.icmp),
        ...renderSet(`${n}_all`, 'ipv4_addr', 'interval', c.all),
      );
      chains.push(
        ...renderChain(
          n,
          [
            `ip ${peer} . meta l4proto . th dport @${n}_l4 accept`,
            `meta l4proto icmp ip ${peer} @${n}_icmp accept`,
            `ip ${peer} @${n}_all accept`,
          ],
          undefined,
          `group ${g.name}, ${direction}`,
        ),
      );
    }
  });
  for (const { p, i } of inPorts) {
    const jumps = [...p.groups].sort().map((g) => gIndex.get(g)!);
    chains.push(...renderChain(`p${i}_in`, jumps.map((j) => `jump g${j}_in`), undefined, `port ${p.tap}, ingress`));
  }
  for (const { p, i } of outPorts) {
    const jumps = [...p.groups].sort().filter((g) => egressGroups.has(g)).map((g) => gIndex.get(g)!);
    chains.push(...renderChain(`p${i}_out`, [...jumps.map((j) => `jump g${j}_out`), 'drop'], undefined, `port ${p.tap}, egress`));
  }

  const base = (hook: string) => `type filter hook ${hook} priority 0; policy accept;`;
  chains.push(
    ...renderChain('prerouting', [
      'iifname != @ports accept',
      'iifname . ether saddr != @port_mac drop',
      'ether type != { ip, arp, ip6 } drop',
      'ether type arp iifname . arp saddr ether != @port_mac drop',
      'ether type arp arp saddr ip 0.0.0.0 accept',
      'ether type arp iifname . arp saddr ip != @port_ipv4 drop',
      'ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept',
      'ether type ip iifname . ip saddr != @port_ipv4 drop',
      'udp sport { 67, 547 } drop',
      'icmpv6 type { nd-router-advert, nd-redirect } drop',
      'ether type arp accept',
      'icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept',
      'ct state established,related accept',
      'iifname vmap @port_out',
    ], base('prerouting'), 'frames from a guest: anti-spoofing, then egress rules'),
    ...renderChain('to_port', [
      'ct state established,related accept',
      'ether type arp accept',
      'icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept',
      'udp sport 67 udp dport 68 accept',
      'udp sport 547 udp dport 546 accept',
      'oifname vmap @port_in',
      'drop',
    ], undefined, 'frames to a guest: stateful, default deny, then ingress rules'),
    ...renderChain('forward', ['oifname @ports jump to_port'], base('forward')),
    ...renderChain('output', ['oifname @ports jump to_port'], base('output')),
  );

  return [
    '# nimbo: security groups and anti-spoofing of instance ports; generated, do not edit',
    `table bridge ${table} {}`,
    `delete table bridge ${table}`,
    `table bridge ${table} {`,
    ...sets,
    ...chains,
    '}',
    '',
  ].join('\n');
}
