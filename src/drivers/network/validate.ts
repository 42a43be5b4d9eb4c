import { isAbsolute } from 'node:path';
import { broadcastOf, contains, formatIpv4, networkOf, overlaps, parseIpv4, prefixOf, validateCidr, validateMac } from '../../lib/ip.js';
import { canonicalIpv6, contains6, hostIn6, isUnicastIpv6, overlaps6, validateSubnet64 } from '../../lib/ip6.js';
import { conflict, invalid } from '../../lib/errors.js';
import { validateIfName } from './ifname.js';
import type { Ipv6Spec, NetworkMode, NetworkSpec, Reservation, VxlanSpec } from './types.js';

export { validateIfName } from './ifname.js';

// Everything that ends up in an argv, a dnsmasq config line or an nft script is validated here first,
// so that no user-supplied text can become a flag, a second config line or an nft statement.

const NFT_TABLE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const OWNER = /^([a-z_][a-z0-9_-]{0,31}|[0-9]{1,10})$/;

/** Validate an nft table name (a letter, then letters, digits or "_"). */
export function validateNftTable(name: string): string {
  if (typeof name !== 'string' || !NFT_TABLE.test(name)) {
    throw invalid(`nft table name "${name}" is invalid: use a letter followed by letters, digits or "_" (at most 64)`);
  }
  return name;
}

/** Validate a DNS host name label (lower-case letters, digits, inner "-", at most 63). */
export function validateHostname(name: string): string {
  if (typeof name !== 'string' || !LABEL.test(name)) {
    throw invalid(`host name "${name}" is invalid: use 1-63 lower-case letters, digits or inner "-"`);
  }
  return name;
}

/** Validate a DNS domain (dot-separated labels, at most 253 characters). */
export function validateDomain(domain: string): string {
  if (typeof domain !== 'string' || domain.length > 253 || !domain.split('.').every((l) => LABEL.test(l))) {
    throw invalid(`domain "${domain}" is invalid: use dot-separated labels of lower-case letters, digits or inner "-"`);
  }
  return domain;
}

/** Validate a tap owner: a system user name or a numeric uid. */
export function validateOwner(owner: string): string {
  if (typeof owner !== 'string' || !OWNER.test(owner)) throw invalid(`tap owner "${owner}" is not a user name or uid`);
  return owner;
}

/** Validate a state directory: absolute, no whitespace, control characters, "," or "#" (it goes into dnsmasq.conf). */
export function validateStateDir(dir: string): string {
  if (typeof dir !== 'string' || !isAbsolute(dir) || /[\s\x00-\x1f\x7f,#]/.test(dir) || dir.split('/').includes('..')) {
    throw invalid(`state directory "${dir}" must be an absolute path without whitespace, ",", "#" or ".."`);
  }
  return dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
}

/** The modes a network can have. */
export const NETWORK_MODES: readonly NetworkMode[] = ['nat', 'routed', 'isolated'];

/** Smallest IPv4 network nimbo accepts: a /29 has 6 usable addresses (gateway + 5 guests). */
export const MAX_IPV4_PREFIX = 29;

/** Validate a unicast IPv4 address for the VXLAN underlay (not 0/8, loopback, multicast, reserved, broadcast). */
function underlayIpv4(text: string, what: string): string {
  const n = parseIpv4(text);
  const first = n >>> 24;
  if (first === 0 || first === 127 || first >= 224) throw invalid(`${what} ${text} is not a unicast IPv4 address a tunnel can use`);
  return formatIpv4(n);
}

/** Validate the VXLAN part of a network and return it normalized (peers sorted). */
export function validateVxlan(v: VxlanSpec, where: string): VxlanSpec {
  if (v === null || typeof v !== 'object') throw invalid(`${where}: vxlan must be an object`);
  const device = validateIfName(v.device, `${where}: vxlan device name`);
  if (typeof v.vni !== 'number' || !Number.isInteger(v.vni) || v.vni < 1 || v.vni > 16777215) {
    throw invalid(`${where}: VXLAN id (vni) ${String(v.vni)} must be an integer 1-16777215`);
  }
  if (typeof v.port !== 'number' || !Number.isInteger(v.port) || v.port < 1 || v.port > 65535) {
    throw invalid(`${where}: VXLAN UDP port ${String(v.port)} must be an integer 1-65535`);
  }
  const local = underlayIpv4(v.local, `${where}: VXLAN local address`);
  if (!Array.isArray(v.peers)) throw invalid(`${where}: VXLAN peers must be a list of IPv4 addresses`);
  const peers: string[] = [];
  for (const p of v.peers) {
    const a = underlayIpv4(p, `${where}: VXLAN peer`);
    if (a === local) throw invalid(`${where}: VXLAN peer ${a} is this host's own local address`);
    if (peers.includes(a)) throw invalid(`${where}: VXLAN peer ${a} is listed twice`);
    peers.push(a);
  }
  peers.sort((a, b) => parseIpv4(a) - parseIpv4(b));
  return { device, vni: v.vni, local, port: v.port, peers };
}

/** Validate the IPv6 part of a network: a /64 and a unicast gateway inside it (not the subnet-router anycast). */
export function validateIpv6Spec(v: Ipv6Spec, where: string): Ipv6Spec {
  if (v === null || typeof v !== 'object') throw invalid(`${where}: ipv6 must be an object`);
  const subnet = validateSubnet64(v.subnet);
  const gateway = canonicalIpv6(v.gateway);
  if (!contains6(subnet, gateway)) throw invalid(`${where}: IPv6 gateway ${gateway} is not inside ${subnet}`);
  if (gateway === hostIn6(subnet, 0) || !isUnicastIpv6(gateway)) {
    throw invalid(`${where}: IPv6 gateway ${gateway} is the subnet-router anycast address or not a unicast address`);
  }
  return { subnet, gateway };
}

/** Validate a network spec and return it normalized (canonical subnets, sorted peers, trimmed state dir). */
export function validateSpec(spec: NetworkSpec): NetworkSpec {
  if (spec === null || typeof spec !== 'object') throw invalid('network spec must be an object');
  if (typeof spec.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(spec.name)) {
    throw invalid(`network name "${spec.name}" is invalid: use letters, digits, "_", "." or "-"`);
  }
  const subnet = validateCidr(spec.subnet);
  const prefix = prefixOf(subnet);
  if (prefix > MAX_IPV4_PREFIX) {
    throw invalid(`network ${spec.name}: subnet ${subnet} is too small; use at least a /${MAX_IPV4_PREFIX} (6 usable addresses: the gateway and 5 guests)`);
  }
  if (prefix < 8) throw invalid(`network ${spec.name}: subnet ${subnet} is too large; use a prefix between /8 and /${MAX_IPV4_PREFIX}`);
  parseIpv4(spec.gateway);
  if (!contains(subnet, spec.gateway)) throw invalid(`network ${spec.name}: gateway ${spec.gateway} is not inside ${subnet}`);
  if (spec.gateway === networkOf(subnet) || spec.gateway === broadcastOf(subnet)) {
    throw invalid(`network ${spec.name}: gateway ${spec.gateway} is the network or broadcast address of ${subnet}`);
  }
  if (!NETWORK_MODES.includes(spec.mode)) {
    throw invalid(`network ${spec.name}: mode "${String(spec.mode)}" must be one of ${NETWORK_MODES.join(', ')}`);
  }
  const where = `network ${spec.name}`;
  const bridge = validateIfName(spec.bridge, 'bridge name');
  const ipv6 = spec.ipv6 === undefined || spec.ipv6 === null ? undefined : validateIpv6Spec(spec.ipv6, where);
  const vxlan = spec.vxlan === undefined || spec.vxlan === null ? undefined : validateVxlan(spec.vxlan, where);
  if (vxlan && vxlan.device === bridge) throw invalid(`${where}: the vxlan device cannot have the bridge's name ${bridge}`);
  const { ipv6: _i, vxlan: _v, ...rest } = spec;
  return {
    ...rest,
    bridge,
    subnet,
    ...(ipv6 ? { ipv6 } : {}),
    ...(vxlan ? { vxlan } : {}),
    domain: validateDomain(spec.domain),
    stateDir: validateStateDir(spec.stateDir),
    nftTable: validateNftTable(spec.nftTable),
  };
}

/**
 * Throw Conflict when (validated) `s` clashes with another of `others` (same name is skipped): the same
 * bridge, state directory or VXLAN device, overlapping IPv4 or IPv6 subnets, or the same VXLAN id and
 * UDP port (the kernel allows one device per id and port).
 */
export function assertNoClash(others: Iterable<NetworkSpec>, s: NetworkSpec): void {
  for (const o of others) {
    if (o.name === s.name) continue;
    if (o.bridge === s.bridge) throw conflict(`bridge ${s.bridge} is already used by network ${o.name}`);
    if (overlaps(o.subnet, s.subnet)) throw conflict(`subnet ${s.subnet} overlaps ${o.subnet} of network ${o.name}`);
    if (o.ipv6 && s.ipv6 && overlaps6(o.ipv6.subnet, s.ipv6.subnet)) {
      throw conflict(`IPv6 subnet ${s.ipv6.subnet} overlaps ${o.ipv6.subnet} of network ${o.name}`);
    }
    if (o.stateDir === s.stateDir) throw conflict(`state directory ${s.stateDir} is already used by network ${o.name}`);
    if (o.vxlan && s.vxlan) {
      if (o.vxlan.device === s.vxlan.device) throw conflict(`vxlan device ${s.vxlan.device} is already used by network ${o.name}`);
      if (o.vxlan.vni === s.vxlan.vni && o.vxlan.port === s.vxlan.port) {
        throw conflict(`VXLAN id ${s.vxlan.vni} on UDP port ${s.vxlan.port} is already used by network ${o.name}`);
      }
    }
    if (o.vxlan && (o.vxlan.device === s.bridge)) throw conflict(`device name ${s.bridge} is the vxlan device of network ${o.name}`);
    if (s.vxlan && (s.vxlan.device === o.bridge)) throw conflict(`device name ${s.vxlan.device} is the bridge of network ${o.name}`);
  }
}

/** Validate reservations against a (validated) spec: unique MACs, IPs (v4 and v6) and names, IPs usable in the subnets. */
export function validateReservations(spec: NetworkSpec, reservations: Reservation[]): Reservation[] {
  const macs = new Set<string>();
  const ips = new Set<string>();
  const ip6s = new Set<string>();
  const names = new Set<string>();
  return reservations.map((r) => {
    const mac = validateMac(r.mac);
    parseIpv4(r.ip);
    const hostname = validateHostname(r.hostname);
    if (!contains(spec.subnet, r.ip)) throw invalid(`reservation ${hostname}: ${r.ip} is not inside ${spec.subnet}`);
    if (r.ip === spec.gateway || r.ip === networkOf(spec.subnet) || r.ip === broadcastOf(spec.subnet)) {
      throw invalid(`reservation ${hostname}: ${r.ip} is the gateway, network or broadcast address`);
    }
    if (macs.has(mac)) throw conflict(`MAC ${mac} is reserved twice on network ${spec.name}`);
    if (ips.has(r.ip)) throw conflict(`address ${r.ip} is reserved twice on network ${spec.name}`);
    if (names.has(hostname)) throw conflict(`host name ${hostname} is reserved twice on network ${spec.name}`);
    macs.add(mac);
    ips.add(r.ip);
    names.add(hostname);
    if (r.ipv6 === undefined || r.ipv6 === null) return { mac, ip: r.ip, hostname };
    if (!spec.ipv6) throw invalid(`reservation ${hostname}: IPv6 address ${r.ipv6} given, but network ${spec.name} has no IPv6`);
    const ipv6 = canonicalIpv6(r.ipv6);
    if (!contains6(spec.ipv6.subnet, ipv6) || ipv6 === hostIn6(spec.ipv6.subnet, 0)) {
      throw invalid(`reservation ${hostname}: ${ipv6} is not a host address inside ${spec.ipv6.subnet}`);
    }
    if (ipv6 === spec.ipv6.gateway) throw invalid(`reservation ${hostname}: ${ipv6} is the IPv6 gateway`);
    if (ip6s.has(ipv6)) throw conflict(`IPv6 address ${ipv6} is reserved twice on network ${spec.name}`);
    ip6s.add(ipv6);
    return { mac, ip: r.ip, hostname, ipv6 };
  });
}

const NETNS = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Validate a named network namespace (ip netns): letters, digits, "_", "." or "-", at most 64. */
export function validateNetnsName(name: string): string {
  if (typeof name !== 'string' || !NETNS.test(name)) throw invalid(`network namespace name "${name}" is invalid`);
  return name;
}
