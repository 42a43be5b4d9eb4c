import { invalid } from '../../../core/errors.js';
import { parseIpv4, validateCidr, validateMac } from '../../../core/ip.js';
import { validateIfName } from '../validate.js';

// Security groups and instance ports as the firewall renderer sees them, and their validation.
// Everything that reaches an nft script passes through here first (names, CIDRs, MACs, ports).

export type Direction = 'ingress' | 'egress';
export type Protocol = 'tcp' | 'udp' | 'icmp' | 'any';

/** An inclusive destination port range (tcp/udp only). */
export interface PortRange {
  from: number;
  to: number;
}

/** Another security group as a peer: its members' (ports') IPv4 addresses. */
export interface GroupRef {
  group: string;
}

/** A CIDR block ("10.0.0.0/8"; a bare address means /32) or a security group. */
export type Peer = string | GroupRef;

/** One allow rule. Ingress rules use `source`, egress rules `destination`; absent means any address. */
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

/** An instance NIC on a nimbo bridge: its tap device, MAC, allocated IPv4 addresses and groups. */
export interface Port {
  tap: string;
  mac: string;
  ipv4: string[];
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

/** Validate an address or CIDR block and return it canonical ("10.0.0.1" becomes "10.0.0.1/32"). */
export function validateAddressBlock(text: string, what: string): string {
  if (typeof text !== 'string') throw invalid(`${what} must be a CIDR string, got ${typeof text}`);
  try {
    if (text.includes('/')) return validateCidr(text);
    parseIpv4(text);
    return `${text}/32`;
  } catch (e) {
    throw invalid(`${what}: ${(e as Error).message}`);
  }
}

function validatePeer(peer: unknown, what: string): Peer {
  if (typeof peer === 'string') return validateAddressBlock(peer, what);
  if (peer && typeof peer === 'object' && !Array.isArray(peer)) {
    const keys = Object.keys(peer);
    if (keys.length === 1 && keys[0] === 'group') return { group: validateGroupName((peer as GroupRef).group) };
  }
  throw invalid(`${what} must be a CIDR string (e.g. 10.0.0.0/8) or { "group": NAME }`);
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

/** Validate a port on its own (tap name, unicast MAC, IPv4 addresses, group names). */
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
  if (!Array.isArray(port.groups)) throw invalid(`port "${tap}": groups must be a list of names`);
  const groups = [...new Set(port.groups.map((g) => validateGroupName(g)))];
  return { tap, mac, ipv4, groups };
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
    for (const a of p.ipv4) {
      const other = owners.get(a);
      if (other !== undefined) throw invalid(`address ${a} is given to both port "${other}" and port "${p.tap}"`);
      owners.set(a, p.tap);
    }
    for (const g of p.groups) if (!names.has(g)) throw invalid(`port "${p.tap}" is attached to unknown security group "${g}"`);
  }
  return { groups: gs, ports: ps };
}
