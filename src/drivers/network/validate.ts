import { isAbsolute } from 'node:path';
import { broadcastOf, contains, networkOf, parseIpv4, prefixOf, validateCidr, validateMac } from '../../core/ip.js';
import { conflict, invalid } from '../../core/errors.js';
import type { NetworkSpec, Reservation } from './types.js';

// Everything that ends up in an argv, a dnsmasq config line or an nft script is validated here first,
// so that no user-supplied text can become a flag, a second config line or an nft statement.

const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
const NFT_TABLE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const OWNER = /^([a-z_][a-z0-9_-]{0,31}|[0-9]{1,10})$/;

/** Validate a Linux interface name (1-15 chars of A-Z a-z 0-9 _ . -, not starting with a symbol). */
export function validateIfName(name: string, what = 'interface name'): string {
  if (typeof name !== 'string' || !IFNAME.test(name)) {
    throw invalid(`${what} "${name}" is invalid: use 1-15 characters of letters, digits, "_", "." or "-", starting with a letter or digit`);
  }
  return name;
}

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

/** Validate a network spec and return it normalized (canonical subnet, trimmed state dir). */
export function validateSpec(spec: NetworkSpec): NetworkSpec {
  const subnet = validateCidr(spec.subnet);
  const prefix = prefixOf(subnet);
  if (prefix < 8 || prefix > 30) throw invalid(`network ${spec.name}: subnet ${subnet} must have a prefix between /8 and /30`);
  parseIpv4(spec.gateway);
  if (!contains(subnet, spec.gateway)) throw invalid(`network ${spec.name}: gateway ${spec.gateway} is not inside ${subnet}`);
  if (spec.gateway === networkOf(subnet) || spec.gateway === broadcastOf(subnet)) {
    throw invalid(`network ${spec.name}: gateway ${spec.gateway} is the network or broadcast address of ${subnet}`);
  }
  if (typeof spec.nat !== 'boolean') throw invalid(`network ${spec.name}: nat must be true or false`);
  if (typeof spec.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(spec.name)) {
    throw invalid(`network name "${spec.name}" is invalid: use letters, digits, "_", "." or "-"`);
  }
  return {
    ...spec,
    bridge: validateIfName(spec.bridge, 'bridge name'),
    subnet,
    domain: validateDomain(spec.domain),
    stateDir: validateStateDir(spec.stateDir),
    nftTable: validateNftTable(spec.nftTable),
  };
}

/** Validate reservations against a (validated) spec: unique MACs, IPs and names, IPs usable in the subnet. */
export function validateReservations(spec: NetworkSpec, reservations: Reservation[]): Reservation[] {
  const macs = new Set<string>();
  const ips = new Set<string>();
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
    return { mac, ip: r.ip, hostname };
  });
}
