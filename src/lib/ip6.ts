import { createHash } from 'node:crypto';
import { invalid } from './errors.js';
import { parseIpv4, validateMac } from './ip.js';

// Pure IPv6 helpers. Addresses are kept as unsigned 128-bit bigints internally; every exported helper
// that takes text validates it and throws InvalidArgument. Text output is canonical (RFC 5952):
// lower-case hex, no leading zeros, the longest run (the first of equal runs) of two or more zero
// groups shortened to "::", and IPv4-mapped addresses written as ::ffff:a.b.c.d.

/** A parsed IPv6 CIDR block: network address (128-bit) and prefix length. */
export interface Cidr6 {
  network: bigint;
  prefix: number;
}

const ALL = (1n << 128n) - 1n;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Parse an IPv6 address (any valid RFC 4291 text form, no zone index) to a 128-bit bigint. */
export function parseIpv6(text: string): bigint {
  if (typeof text !== 'string') throw invalid(`IPv6 address must be a string, got ${typeof text}`);
  const bad = (why: string) => invalid(`"${text}" is not an IPv6 address (${why})`);
  if (text.length === 0 || text.length > 45) throw bad('expected e.g. fd00:1:2:3::1');
  if (text.includes('%')) throw bad('zone indexes are not accepted');
  const halves = text.split('::');
  if (halves.length > 2) throw bad('"::" may appear only once');
  const groupsOf = (part: string, allowV4: boolean): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    items.forEach((g, i) => {
      if (allowV4 && i === items.length - 1 && g.includes('.')) {
        let v4: number;
        try {
          v4 = parseIpv4(g);
        } catch {
          throw bad(`"${g}" is not an embedded IPv4 address`);
        }
        out.push(v4 >>> 16, v4 & 0xffff);
        return;
      }
      if (!HEX_GROUP.test(g)) throw bad(`"${g}" is not a group of 1-4 hex digits`);
      out.push(parseInt(g, 16));
    });
    return out;
  };
  let groups: number[];
  if (halves.length === 2) {
    const head = groupsOf(halves[0]!, false);
    const tail = groupsOf(halves[1]!, true);
    if (head.length + tail.length > 7) throw bad('too many groups for "::"');
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    groups = groupsOf(text, true);
    if (groups.length !== 8) throw bad('expected eight groups or "::"');
  }
  return groups.reduce((n, g) => (n << 16n) | BigInt(g), 0n);
}

/** Format a 128-bit value as canonical IPv6 text (RFC 5952). */
export function formatIpv6(n: bigint): string {
  if (typeof n !== 'bigint' || n < 0n || n > ALL) throw invalid(`${String(n)} is not a 128-bit IPv6 address value`);
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952 section 5: IPv4-mapped addresses keep the dotted quad.
  if (n >> 32n === 0xffffn) return `::ffff:${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`;
  let bestAt = -1;
  let bestLen = 1; // a single zero group is never shortened
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestAt < 0) return hex(groups);
  return `${hex(groups.slice(0, bestAt))}::${hex(groups.slice(bestAt + bestLen))}`;
}

/** The canonical (RFC 5952) form of an IPv6 address. */
export function canonicalIpv6(text: string): string {
  return formatIpv6(parseIpv6(text));
}

/** True when `text` is a valid IPv6 address. */
export function isIpv6(text: string): boolean {
  try {
    parseIpv6(text);
    return true;
  } catch {
    return false;
  }
}

function mask(prefix: number): bigint {
  return prefix === 0 ? 0n : (ALL << BigInt(128 - prefix)) & ALL;
}

/**
 * Parse "ADDR/N". Strict by default: host bits must be zero (rejected with a hint); with
 * `{ strict: false }` they are cleared instead. A bare address is not accepted.
 */
export function parseCidr6(text: string, opts: { strict?: boolean } = {}): Cidr6 {
  if (typeof text !== 'string') throw invalid(`IPv6 CIDR must be a string, got ${typeof text}`);
  const slash = text.indexOf('/');
  if (slash < 0) throw invalid(`"${text}" is not an IPv6 CIDR block (expected ADDRESS/PREFIX, e.g. fd00:1:2:3::/64)`);
  const addr = parseIpv6(text.slice(0, slash));
  const p = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 128) throw invalid(`"${text}" has an invalid prefix length "${p}" (expected 0-128)`);
  const prefix = Number(p);
  const network = addr & mask(prefix);
  if (network !== addr && opts.strict !== false) {
    throw invalid(`"${text}" has host bits set; did you mean ${formatIpv6(network)}/${prefix}?`);
  }
  return { network, prefix };
}

/** Format a parsed block as canonical "ADDR/N". */
export function formatCidr6(c: Cidr6): string {
  return `${formatIpv6(c.network)}/${c.prefix}`;
}

/** Validate an IPv6 CIDR block and return it in canonical form. */
export function validateCidr6(text: string): string {
  return formatCidr6(parseCidr6(text));
}

/** Validate a /64 (the only prefix length SLAAC works with) and return it in canonical form. */
export function validateSubnet64(text: string): string {
  const c = parseCidr6(text);
  if (c.prefix !== 64) throw invalid(`IPv6 subnet ${text} must be a /64 (SLAAC needs exactly 64 bits of interface identifier)`);
  return formatCidr6(c);
}

/** An address (= /128) or a CIDR block; host bits of a CIDR must be zero. */
function parseBlock6(text: string): Cidr6 {
  return text.includes('/') ? parseCidr6(text) : { network: parseIpv6(text), prefix: 128 };
}

function lastOf(c: Cidr6): bigint {
  return c.network | (~mask(c.prefix) & ALL);
}

/** True when `inner` (an address or a CIDR block) lies entirely inside CIDR block `outer`. */
export function contains6(outer: string, inner: string): boolean {
  const o = parseCidr6(outer);
  const i = parseBlock6(inner);
  return i.prefix >= o.prefix && (i.network & mask(o.prefix)) === o.network;
}

/** True when two blocks (addresses or CIDRs) share at least one address. */
export function overlaps6(a: string, b: string): boolean {
  const x = parseBlock6(a);
  const y = parseBlock6(b);
  return x.network <= lastOf(y) && y.network <= lastOf(x);
}

/** True when the address or block lies in the unique local range fc00::/7 (RFC 4193). */
export function isUla(text: string): boolean {
  const c = parseBlock6(text);
  return c.prefix >= 7 && c.network >> 121n === 0x7en;
}

/** True for an address usable as a host's unicast address: not ::, ::1, multicast, link-local or IPv4-mapped. */
export function isUnicastIpv6(text: string): boolean {
  const n = parseIpv6(text);
  if (n === 0n || n === 1n) return false;
  if (n >> 120n === 0xffn) return false; // ff00::/8 multicast
  if (n >> 118n === 0x3fan) return false; // fe80::/10 link-local
  if (n >> 32n === 0xffffn) return false; // ::ffff:0:0/96 IPv4-mapped
  return true;
}

/** Address number `n` inside a block (n = 1: the first after the network address, e.g. PREFIX::1). */
export function hostIn6(cidr: string, n: bigint | number): string {
  const c = parseCidr6(cidr);
  const k = BigInt(n);
  const size = 1n << BigInt(128 - c.prefix);
  if (k < 0n || k >= size) throw invalid(`host number ${k} is out of range for ${cidr}`);
  return formatIpv6(c.network + k);
}

/**
 * A deterministic unique-local /64 for `seed` (RFC 4193 layout fdXX:XXXX:XXXX:YYYY::/64): the 40-bit
 * global ID and the 16-bit subnet ID come from SHA-256 of the seed, so the same seed (e.g. a daemon's
 * id plus a network name) always gives the same prefix and different seeds practically never collide.
 */
export function ulaSubnet(seed: string): string {
  if (typeof seed !== 'string' || seed === '') throw invalid('ULA seed must be a non-empty string');
  const h = createHash('sha256').update(`nimbo-ula:${seed}`).digest();
  let n = 0xfdn;
  for (let i = 0; i < 7; i++) n = (n << 8n) | BigInt(h[i]!);
  return formatCidr6({ network: n << 64n, prefix: 64 });
}

/**
 * The SLAAC address (modified EUI-64, RFC 4291 appendix A) of a NIC with `mac` in `prefix64`:
 * the MAC with ff:fe in the middle and the universal/local bit flipped.
 */
export function eui64Address(prefix64: string, mac: string): string {
  const net = parseCidr6(validateSubnet64(prefix64)).network;
  const b = validateMac(mac).split(':').map((x) => parseInt(x, 16));
  const bytes = [b[0]! ^ 0x02, b[1]!, b[2]!, 0xff, 0xfe, b[3]!, b[4]!, b[5]!];
  const iid = bytes.reduce((n, x) => (n << 8n) | BigInt(x), 0n);
  return formatIpv6(net | iid);
}
