import { invalid } from '../../../lib/errors.js';
import { isIpv4, parseIpv4, validateCidr, validateMac } from '../../../lib/ip.js';
import { validateIfName } from '../ifname.js';

// Security groups and instance ports as the firewall renderer sees them, and their validation.
// Everything that reaches an nft script passes through here first (names, CIDRs, MACs, ports).
// Addresses are IPv4 or IPv6; IPv6 text is parsed here (128-bit bigint) and always re-formatted canonically.

export type Direction = 'ingress' | 'egress';
export type Protocol = 'tcp' | 'udp' | 'icmp' | 'any';

/** An inclusive destination port range (tcp/udp only). */
export interface PortRange {
  from: number;
  to: number;
}

/** Another security group as a peer: its members' (ports') IPv4 and IPv6 addresses. */
export interface GroupRef {
  group: string;
}

/** An IPv4 or IPv6 CIDR block ("10.0.0.0/8", "2001:db8::/32"; a bare address means /32 or /128) or a security group. */
export type Peer = string | GroupRef;

/**
 * One allow rule. Ingress rules use `source`, egress rules `destination`; absent means any address of
 * both families. Protocol icmp means ICMP for IPv4 peers and ICMPv6 for IPv6 peers.
 */
export interface Rule {
  id: string;
  direction: Direction;
  protocol: Protocol;
  ports?: PortRange;
  source?: Peer;
  destination?: Peer;
}

/** A named, reusable set of allow rules, attached to ports. */
export interface SecurityGroup {
  name: string;
  rules: Rule[];
}

/**
 * An instance NIC on a nimbo bridge: its tap device, MAC, allocated IPv4 and IPv6 addresses (the only
 * sources it may use, besides link-local IPv6 and DHCP/DAD), and its groups.
 */
export interface Port {
  tap: string;
  mac: string;
  ipv4: string[];
  ipv6: string[];
  groups: string[];
}

const GROUP_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
const RULE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Validate a security group name (lower-case letter, then letters, digits, "_" or "-"; at most 63). */
export function validateGroupName(name: string): string {
  if (typeof name !== 'string' || !GROUP_NAME.test(name)) {
    throw invalid(`security group name "${String(name)}" is invalid: use a lower-case letter followed by lower-case letters, digits, "_" or "-" (at most 63)`);
  }
  return name;
}

const HEXTET = /^[0-9a-f]{1,4}$/i;

/** Parse an IPv6 address (RFC 4291 text: "::" compression, an IPv4 tail) into a 128-bit unsigned bigint. */
export function parseIpv6(text: string): bigint {
  const bad = (why: string) => invalid(`"${String(text)}" is not an IPv6 address (${why})`);
  if (typeof text !== 'string') throw invalid(`IPv6 address must be a string, got ${typeof text}`);
  if (text.length === 0 || text.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(text)) throw bad('expected hex groups separated by ":", e.g. 2001:db8::1');
  let s = text;
  if (s.includes('.')) {
    const at = s.lastIndexOf(':');
    const v4 = s.slice(at + 1);
    if (!isIpv4(v4)) throw bad(`"${v4}" is not a dotted-quad IPv4 tail`);
    const n = parseIpv4(v4);
    s = `${s.slice(0, at + 1)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) throw bad('"::" may appear only once');
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const all = halves.length === 2 ? [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail] : head;
  if (halves.length === 2 && head.length + tail.length > 7) throw bad('too many groups around "::"');
  if (all.length !== 8) throw bad('expected eight groups or "::"');
  let n = 0n;
  for (const g of all) {
    if (!HEXTET.test(g)) throw bad(`"${g}" is not a group of 1-4 hex digits`);
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  return n;
}

/** Format a 128-bit value as canonical IPv6 text (RFC 5952: lower case, longest zero run as "::"). */
export function formatIpv6(n: bigint): string {
  const g = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  return best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** Validate an IPv6 address and return it canonical. */
export function canonicalIpv6(text: string): string {
  return formatIpv6(parseIpv6(text));
}

/** An IPv6 CIDR block ("2001:db8::/32"; a bare address means /128), canonical, with host bits checked. */
function validateCidr6(text: string): string {
  const slash = text.indexOf('/');
  const addr = parseIpv6(slash < 0 ? text : text.slice(0, slash));
  if (slash < 0) return `${formatIpv6(addr)}/128`;
  const p = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 128) throw invalid(`"${text}" has an invalid prefix length "${p}" (expected 0-128)`);
  const prefix = Number(p);
  const host = (1n << BigInt(128 - prefix)) - 1n;
  if ((addr & host) !== 0n) throw invalid(`"${text}" has host bits set; did you mean ${formatIpv6(addr & ~host)}/${prefix}?`);
  return `${formatIpv6(addr)}/${prefix}`;
}

/** Validate an IPv4 or IPv6 address or CIDR block and return it canonical ("10.0.0.1" becomes "10.0.0.1/32"). */
export function validateAddressBlock(text: string, what: string): string {
  if (typeof text !== 'string') throw invalid(`${what} must be a CIDR string, got ${typeof text}`);
  try {
    if (text.includes(':')) return validateCidr6(text);
    if (text.includes('/')) return validateCidr(text);
    parseIpv4(text);
    return `${text}/32`;
  } catch (e) {
    throw invalid(`${what}: ${(e as Error).message}`);
  }
}

/** A port's own IPv6 address: unicast (not ::, ::1, multicast or IPv4-mapped), canonical. */
function validatePortIpv6(text: unknown, tap: string): string {
  if (typeof text !== 'string') throw invalid(`port "${tap}": IPv6 address must be a string`);
  let n: bigint;
  try {
    n = parseIpv6(text);
  } catch (e) {
    throw invalid(`port "${tap}": ${(e as Error).message}`);
  }
  if (n <= 1n || n >> 120n === 0xffn || n >> 32n === 0xffffn) {
    throw invalid(`port "${tap}": ${text} is not a unicast IPv6 address a NIC can own`);
  }
  return formatIpv6(n);
}

function validatePeer(peer: unknown, what: string): Peer {
  if (typeof peer === 'string') return validateAddressBlock(peer, what);
  if (peer && typeof peer === 'object' && !Array.isArray(peer)) {
    const keys = Object.keys(peer);
    if (keys.length === 1 && keys[0] === 'group') return { group: validateGroupName((peer as GroupRef).group) };
  }
  throw invalid(`${what} must be a CIDR string (e.g. 10.0.0.0/8 or 2001:db8::/32) or { "group": NAME }`);
}

function validatePort(n: unknown, what: string): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) {
    throw invalid(`${what} ${String(n)} is not a port number 1-65535`);
  }
  return n;
}

/** Validate one rule and return a normalized copy (canonical CIDRs, no undefined keys). */
export function validateRule(rule: Rule, where = 'rule'): Rule {
  if (!rule || typeof rule !== 'object') throw invalid(`${where} must be an object`);
  const at = `${where} ${JSON.stringify(rule.id)}`;
  if (typeof rule.id !== 'string' || !RULE_ID.test(rule.id)) {
    throw invalid(`${where} id ${JSON.stringify(rule.id)} is invalid: use 1-64 letters, digits, "_", "." or "-"`);
  }
  if (rule.direction !== 'ingress' && rule.direction !== 'egress') {
    throw invalid(`${at}: direction ${JSON.stringify(rule.direction)} is invalid (expected "ingress" or "egress")`);
  }
  if (!['tcp', 'udp', 'icmp', 'any'].includes(rule.protocol)) {
    throw invalid(`${at}: protocol ${JSON.stringify(rule.protocol)} is invalid (expected "tcp", "udp", "icmp" or "any")`);
  }
  const out: Rule = { id: rule.id, direction: rule.direction, protocol: rule.protocol };
  if (rule.ports !== undefined) {
    if (rule.protocol !== 'tcp' && rule.protocol !== 'udp') throw invalid(`${at}: ports are only allowed with protocol tcp or udp, not ${rule.protocol}`);
    if (!rule.ports || typeof rule.ports !== 'object') throw invalid(`${at}: ports must be { from, to }`);
    const from = validatePort(rule.ports.from, `${at}: port`);
    const to = validatePort(rule.ports.to, `${at}: port`);
    if (from > to) throw invalid(`${at}: port range ${from}-${to} is empty (from must be <= to)`);
    out.ports = { from, to };
  }
  if (rule.direction === 'ingress') {
    if (rule.destination !== undefined) throw invalid(`${at}: an ingress rule takes a source, not a destination`);
    if (rule.source !== undefined) out.source = validatePeer(rule.source, `${at}: source`);
  } else {
    if (rule.source !== undefined) throw invalid(`${at}: an egress rule takes a destination, not a source`);
    if (rule.destination !== undefined) out.destination = validatePeer(rule.destination, `${at}: destination`);
  }
  return out;
}

/** Validate a group on its own (name, rules, unique rule ids); group references are checked by validateFirewall. */
export function validateGroup(group: SecurityGroup): SecurityGroup {
  if (!group || typeof group !== 'object') throw invalid('security group must be an object');
  const name = validateGroupName(group.name);
  if (!Array.isArray(group.rules)) throw invalid(`security group "${name}": rules must be a list`);
  const ids = new Set<string>();
  const rules = group.rules.map((r) => {
    const v = validateRule(r, `security group "${name}" rule`);
    if (ids.has(v.id)) throw invalid(`security group "${name}": rule id "${v.id}" is used twice`);
    ids.add(v.id);
    return v;
  });
  return { name, rules };
}

/**
 * Validate a port on its own (tap name, unicast MAC, IPv4 and IPv6 addresses, group names). IPv6
 * addresses come back canonical; a port stored before IPv6 existed (no `ipv6` key) counts as none.
 */
export function validatePortSpec(port: Port): Port {
  if (!port || typeof port !== 'object') throw invalid('port must be an object');
  const tap = validateIfName(port.tap, 'tap name');
  const mac = validateMac(port.mac);
  if (!Array.isArray(port.ipv4)) throw invalid(`port "${tap}": ipv4 must be a list of addresses`);
  const ipv4 = [...new Set(port.ipv4.map((a) => {
    if (typeof a !== 'string') throw invalid(`port "${tap}": IPv4 address must be a string`);
    try {
      parseIpv4(a);
    } catch (e) {
      throw invalid(`port "${tap}": ${(e as Error).message}`);
    }
    return a;
  }))];
  const v6 = (port as Partial<Port>).ipv6 ?? [];
  if (!Array.isArray(v6)) throw invalid(`port "${tap}": ipv6 must be a list of addresses`);
  const ipv6 = [...new Set(v6.map((a) => validatePortIpv6(a, tap)))];
  if (!Array.isArray(port.groups)) throw invalid(`port "${tap}": groups must be a list of names`);
  const groups = [...new Set(port.groups.map((g) => validateGroupName(g)))];
  return { tap, mac, ipv4, ipv6, groups };
}

/**
 * Validate a whole firewall model: each group and port, unique group names and taps, and that every
 * group a port is attached to or a rule refers to exists. Returns normalized copies.
 */
export function validateFirewall(groups: SecurityGroup[], ports: Port[]): { groups: SecurityGroup[]; ports: Port[] } {
  if (!Array.isArray(groups) || !Array.isArray(ports)) throw invalid('groups and ports must be lists');
  const gs = groups.map(validateGroup);
  const names = new Set<string>();
  for (const g of gs) {
    if (names.has(g.name)) throw invalid(`security group "${g.name}" is defined twice`);
    names.add(g.name);
  }
  for (const g of gs) {
    for (const r of g.rules) {
      const peer = r.source ?? r.destination;
      if (peer !== undefined && typeof peer !== 'string' && !names.has(peer.group)) {
        throw invalid(`security group "${g.name}" rule "${r.id}" refers to unknown security group "${peer.group}"`);
      }
    }
  }
  const ps = ports.map(validatePortSpec);
  const taps = new Set<string>();
  const owners = new Map<string, string>();
  for (const p of ps) {
    if (taps.has(p.tap)) throw invalid(`port "${p.tap}" is listed twice`);
    taps.add(p.tap);
    for (const a of [...p.ipv4, ...p.ipv6]) {
      const other = owners.get(a);
      if (other !== undefined) throw invalid(`address ${a} is given to both port "${other}" and port "${p.tap}"`);
      owners.set(a, p.tap);
    }
    for (const g of p.groups) if (!names.has(g)) throw invalid(`port "${p.tap}" is attached to unknown security group "${g}"`);
  }
  return { groups: gs, ports: ps };
}
