import { formatIpv4, parseCidr, parseIpv4 } from '../../../lib/ip.js';
import { formatIpv6, parseIpv6, type Peer, type Port, type Rule, type SecurityGroup } from './sg-model.js';
import { renderChain, renderSet } from './sg-render-bridge.js';

// The inet half of the security-group fragment: stateful group filtering keyed by addresses (see
// sg-render.ts), and the interval arithmetic that turns overlapping rules into disjoint set elements.

type Fam = 4 | 6;
/** An inclusive address or port range. */
type Range = [bigint, bigint];
interface Box {
  addr: Range;
  port: Range;
}

const BITS: Record<Fam, bigint> = { 4: 32n, 6: 128n };
const FULL: Record<Fam, Range> = { 4: [0n, (1n << 32n) - 1n], 6: [0n, (1n << 128n) - 1n] };
const cmp = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
const fmt = (fam: Fam, n: bigint) => (fam === 4 ? formatIpv4(Number(n)) : formatIpv6(n));
export const addrValue = (a: string): bigint => (a.includes(':') ? parseIpv6(a) : BigInt(parseIpv4(a)));
export const byAddr = (a: string, b: string) => cmp(addrValue(a), addrValue(b));

/** A validated (canonical) CIDR block as its family and range. */
function blockOf(cidr: string): { fam: Fam; range: Range } {
  if (!cidr.includes(':')) {
    const c = parseCidr(cidr);
    return { fam: 4, range: [BigInt(c.network), BigInt(c.network) + (1n << BigInt(32 - c.prefix)) - 1n] };
  }
  const [a, p] = cidr.split('/') as [string, string];
  const lo = parseIpv6(a);
  return { fam: 6, range: [lo, lo + (1n << BigInt(128 - Number(p))) - 1n] };
}

/** Union of ranges as sorted, disjoint, non-adjacent ranges. */
function mergeRanges(rs: Range[]): Range[] {
  const sorted = [...rs].sort((a, b) => cmp(a[0], b[0]) || cmp(a[1], b[1]));
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1n) last[1] = last[1] > r[1] ? last[1] : r[1];
    else out.push([r[0], r[1]]);
  }
  return out;
}

/** Union of address x port boxes as disjoint boxes (sweep over address boundaries); the kernel refuses overlaps. */
function disjointBoxes(boxes: Box[]): Box[] {
  const cuts = [...new Set(boxes.flatMap((b) => [b.addr[0], b.addr[1] + 1n]))].sort(cmp);
  const out: { addr: Range; ports: Range[]; key: string }[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const lo = cuts[i]!;
    const hi = cuts[i + 1]! - 1n;
    const ports = mergeRanges(boxes.filter((b) => b.addr[0] <= lo && b.addr[1] >= hi).map((b) => b.port));
    if (ports.length === 0) continue;
    const key = ports.map((p) => `${p[0]}-${p[1]}`).join(',');
    const last = out[out.length - 1];
    if (last && last.addr[1] + 1n === lo && last.key === key) last.addr[1] = hi;
    else out.push({ addr: [lo, hi], ports, key });
  }
  return out.flatMap((s) => s.ports.map((port) => ({ addr: s.addr, port })));
}

/** An address range as nft text: an address, a CIDR block when it is one, else "A-B". */
function addrText(fam: Fam, [lo, hi]: Range): string {
  if (lo === hi) return fmt(fam, lo);
  const size = hi - lo + 1n;
  if ((size & (size - 1n)) === 0n && lo % size === 0n) return `${fmt(fam, lo)}/${BITS[fam] - BigInt(size.toString(2).length - 1)}`;
  return `${fmt(fam, lo)}-${fmt(fam, hi)}`;
}

const portText = ([lo, hi]: Range) => (lo === hi ? `${lo}` : `${lo}-${hi}`);

/** The ranges per family a peer stands for (none: everything; a group: its members' addresses). */
function peerRanges(peer: Peer | undefined, members: Map<string, string[]>): Record<Fam, Range[]> {
  if (peer === undefined) return { 4: [FULL[4]], 6: [FULL[6]] };
  const out: Record<Fam, Range[]> = { 4: [], 6: [] };
  if (typeof peer === 'string') {
    const b = blockOf(peer);
    out[b.fam].push(b.range);
  } else {
    for (const a of members.get(peer.group) ?? []) out[a.includes(':') ? 6 : 4].push([addrValue(a), addrValue(a)]);
  }
  return out;
}

/** Set elements of one group, one direction, one family: tcp/udp boxes, icmp and any-protocol ranges. */
function compileRules(rules: Rule[], members: Map<string, string[]>, fam: Fam) {
  const l4: Record<'tcp' | 'udp', Box[]> = { tcp: [], udp: [] };
  const icmp: Range[] = [];
  const all: Range[] = [];
  for (const r of rules) {
    const addrs = peerRanges(r.direction === 'ingress' ? r.source : r.destination, members)[fam];
    if (r.protocol === 'tcp' || r.protocol === 'udp') {
      const port: Range = r.ports ? [BigInt(r.ports.from), BigInt(r.ports.to)] : [0n, 65535n];
      for (const addr of addrs) l4[r.protocol].push({ addr, port });
    } else if (r.protocol === 'icmp') icmp.push(...addrs);
    else all.push(...addrs);
  }
  return {
    l4: (['tcp', 'udp'] as const).flatMap((proto) => disjointBoxes(l4[proto]).map((b) => `${addrText(fam, b.addr)} . ${proto} . ${portText(b.port)}`)),
    icmp: mergeRanges(icmp).map((r) => addrText(fam, r)),
    all: mergeRanges(all).map((r) => addrText(fam, r)),
  };
}

const FAMILY = {
  4: { type: 'ipv4_addr', match: 'ip', icmp: 'icmp' },
  6: { type: 'ipv6_addr', match: 'ip6', icmp: 'ipv6-icmp' },
} as const;

/** Sets and the chain of one group in one direction (chain sg_gN_in / sg_gN_out; sets sg_gN_in4_l4 ...). */
function renderGroup(g: SecurityGroup, i: number, dir: 'in' | 'out', members: Map<string, string[]>) {
  const direction = dir === 'in' ? 'ingress' : 'egress';
  const peer = dir === 'in' ? 'saddr' : 'daddr';
  const rules = g.rules.filter((r) => r.direction === direction);
  const sets: string[] = [`\t# group ${g.name}, ${direction}`];
  const lookups: string[] = [];
  for (const fam of [4, 6] as const) {
    const c = compileRules(rules, members, fam);
    const f = FAMILY[fam];
    const n = `sg_g${i}_${dir}${fam}`;
    sets.push(
      ...renderSet(`${n}_l4`, `type ${f.type} . inet_proto . inet_service`, 'interval', c.l4),
      ...renderSet(`${n}_icmp`, `type ${f.type}`, 'interval', c.icmp),
      ...renderSet(`${n}_all`, `type ${f.type}`, 'interval', c.all),
    );
    lookups.push(`${f.match} ${peer} . meta l4proto . th dport @${n}_l4 accept`, `meta l4proto ${f.icmp} ${f.match} ${peer} @${n}_icmp accept`, `${f.match} ${peer} @${n}_all accept`);
  }
  return { sets, chain: renderChain(`sg_g${i}_${dir}`, lookups, undefined, `group ${g.name}, ${direction}`) };
}

const ND_IN = 'icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } ip6 hoplimit 255 accept';
const ND_OUT = 'icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } ip6 hoplimit 255 accept';

/** The fixed chains of the inet part (the same for any groups and ports). */
export const INET_FIXED_CHAINS: Record<string, { head?: string; comment: string; rules: string[] }> = {
  sg_from_port: {
    comment: 'from a port address: egress rules (default deny only for ports whose groups have egress rules)',
    rules: [ND_OUT, 'ct state invalid drop', 'ip saddr vmap @sg_out4', 'ip6 saddr vmap @sg_out6'],
  },
  sg_to_port: {
    comment: 'to a port address: ingress rules, default deny',
    rules: [ND_IN, 'ct state invalid drop', 'ip daddr vmap @sg_in4', 'ip6 daddr vmap @sg_in6', 'drop'],
  },
  sg_forward_out: {
    head: 'type filter hook forward priority filter; policy accept;',
    comment: 'routed and bridged (br_netfilter) traffic: the sender port\'s egress rules...',
    rules: ['ct state established,related accept', 'ip saddr @sg_addr4 jump sg_from_port', 'ip6 saddr @sg_addr6 jump sg_from_port'],
  },
  sg_forward_in: {
    head: 'type filter hook forward priority filter + 1; policy accept;',
    comment: '...and, in a base chain of its own (an accept ends only its chain), the receiver port\'s ingress rules',
    rules: ['ct state established,related accept', 'ip daddr @sg_addr4 jump sg_to_port', 'ip6 daddr @sg_addr6 jump sg_to_port'],
  },
  sg_input: {
    head: 'type filter hook input priority filter; policy accept;',
    comment: 'a guest to the host: egress rules, except DHCP/DHCPv6 requests and the metadata service (as on EC2)',
    rules: [
      'ct state established,related accept',
      'udp sport 68 udp dport 67 accept',
      'udp sport 546 udp dport 547 accept',
      // Only the metadata part's per-NIC DNAT makes such connections (metadata-nft.ts); net_input checks the NIC.
      'ct status dnat ct original ip daddr 169.254.169.254 accept',
      'ip saddr @sg_addr4 jump sg_from_port',
      'ip6 saddr @sg_addr6 jump sg_from_port',
    ],
  },
  sg_output: {
    head: 'type filter hook output priority filter; policy accept;',
    comment: 'the host to a guest: ingress rules, except DHCP/DHCPv6 replies (and ND/RA, in sg_to_port)',
    rules: [
      'ct state established,related accept',
      'udp sport 67 udp dport 68 accept',
      'udp sport 547 udp dport 546 accept',
      'ip daddr @sg_addr4 jump sg_to_port',
      'ip6 daddr @sg_addr6 jump sg_to_port',
    ],
  },
};

/** The inet part for validated, sorted groups and ports (addresses sorted too). */
export function renderInetPart(gs: SecurityGroup[], ps: Port[]): string[] {
  const gIndex = new Map(gs.map((g, i) => [g.name, i]));
  const members = new Map<string, string[]>();
  for (const p of ps) for (const g of p.groups) members.set(g, [...(members.get(g) ?? []), ...p.ipv4, ...p.ipv6]);
  const egressGroups = new Set(gs.filter((g) => g.rules.some((r) => r.direction === 'egress')).map((g) => g.name));
  const indexed = ps.map((p, i) => ({ p, i }));
  const restricted = indexed.filter(({ p }) => p.groups.some((g) => egressGroups.has(g)));

  const out: string[] = ['\t# security groups, layer 3: stateful, keyed by port addresses (trustworthy thanks to the bridge part)'];
  out.push(...renderSet('sg_addr4', 'type ipv4_addr', null, ps.flatMap((p) => p.ipv4)));
  out.push(...renderSet('sg_addr6', 'type ipv6_addr', null, ps.flatMap((p) => p.ipv6)));
  const vmap = (name: string, fam: Fam, entries: { p: Port; i: number }[], verdict: (x: { p: Port; i: number }) => string) =>
    renderSet(name, `type ${FAMILY[fam].type} : verdict`, null, entries.flatMap((x) => (fam === 4 ? x.p.ipv4 : x.p.ipv6).map((a) => `${a} : ${verdict(x)}`)), 'map');
  const inVerdict = ({ p, i }: { p: Port; i: number }) => (p.groups.length > 0 ? `jump sg_p${i}_in` : 'drop');
  out.push(...vmap('sg_in4', 4, indexed, inVerdict), ...vmap('sg_in6', 6, indexed, inVerdict));
  out.push(...vmap('sg_out4', 4, restricted, ({ i }) => `jump sg_p${i}_out`), ...vmap('sg_out6', 6, restricted, ({ i }) => `jump sg_p${i}_out`));

  const chains: string[] = [];
  gs.forEach((g, i) => {
    for (const dir of ['in', 'out'] as const) {
      const r = renderGroup(g, i, dir, members);
      out.push(...r.sets);
      chains.push(...r.chain);
    }
  });
  for (const { p, i } of indexed.filter(({ p }) => p.groups.length > 0)) {
    chains.push(...renderChain(`sg_p${i}_in`, [...p.groups].sort().map((g) => `jump sg_g${gIndex.get(g)!}_in`), undefined, `port ${p.tap}, ingress`));
  }
  for (const { p, i } of restricted) {
    const jumps = [...p.groups].sort().filter((g) => egressGroups.has(g)).map((g) => `jump sg_g${gIndex.get(g)!}_out`);
    chains.push(...renderChain(`sg_p${i}_out`, [...jumps, 'drop'], undefined, `port ${p.tap}, egress`));
  }
  for (const [name, c] of Object.entries(INET_FIXED_CHAINS)) chains.push(...renderChain(name, c.rules, c.head, c.comment));
  return [...out, ...chains];
}
