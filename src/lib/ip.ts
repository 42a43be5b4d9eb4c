import { randomBytes } from 'node:crypto';
import { conflict, invalid } from './errors.js';

// Pure IPv4 and MAC helpers. Addresses are kept as unsigned 32-bit numbers internally;
// every exported helper that takes text validates it and throws InvalidArgument.

/** A parsed IPv4 CIDR block: network address (uint32) and prefix length. */
export interface Cidr {
  network: number;
  prefix: number;
}

const OCTET = /^(0|[1-9][0-9]{0,2})$/;

/** Parse a dotted-quad IPv4 address to an unsigned 32-bit number (no leading zeros, no octal). */
export function parseIpv4(text: string): number {
  if (typeof text !== 'string') throw invalid(`IPv4 address must be a string, got ${typeof text}`);
  const parts = text.split('.');
  if (parts.length !== 4) throw invalid(`"${text}" is not an IPv4 address (expected four dot-separated numbers, e.g. 10.0.0.1)`);
  let n = 0;
  for (const p of parts) {
    if (!OCTET.test(p) || Number(p) > 255) {
      throw invalid(`"${text}" is not an IPv4 address ("${p}" is not a number 0-255 without leading zeros)`);
    }
    n = n * 256 + Number(p);
  }
  return n;
}

/** Format an unsigned 32-bit number as a dotted-quad IPv4 address. */
export function formatIpv4(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw invalid(`${n} is not a 32-bit IPv4 address value`);
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** True when `text` is a valid dotted-quad IPv4 address. */
export function isIpv4(text: string): boolean {
  try {
    parseIpv4(text);
    return true;
  } catch {
    return false;
  }
}

/** The netmask of a prefix length as a uint32 (e.g. 24 -> 0xffffff00). */
export function prefixToMask(prefix: number): number {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw invalid(`prefix length ${prefix} is not in 0-32`);
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/**
 * Parse "A.B.C.D/N". Strict by default: host bits must be zero ("10.0.0.5/24" is rejected with a hint);
 * with `{ strict: false }` they are cleared instead. A bare address is not accepted.
 */
export function parseCidr(text: string, opts: { strict?: boolean } = {}): Cidr {
  if (typeof text !== 'string') throw invalid(`CIDR must be a string, got ${typeof text}`);
  const slash = text.indexOf('/');
  if (slash < 0) throw invalid(`"${text}" is not a CIDR block (expected ADDRESS/PREFIX, e.g. 10.77.0.0/24)`);
  const addr = parseIpv4(text.slice(0, slash));
  const p = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]?)$/.test(p) || Number(p) > 32) {
    throw invalid(`"${text}" has an invalid prefix length "${p}" (expected 0-32)`);
  }
  const prefix = Number(p);
  const network = (addr & prefixToMask(prefix)) >>> 0;
  if (network !== addr && opts.strict !== false) {
    throw invalid(`"${text}" has host bits set; did you mean ${formatIpv4(network)}/${prefix}?`);
  }
  return { network, prefix };
}

/** Format a parsed CIDR as "A.B.C.D/N". */
export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.network)}/${c.prefix}`;
}

/** Validate a CIDR block and return it in canonical form; throws InvalidArgument with a clear message. */
export function validateCidr(text: string): string {
  return formatCidr(parseCidr(text));
}

/** Parse an address ("10.0.0.1" = /32) or a CIDR block; host bits of a CIDR must be zero. */
function parseBlock(text: string): Cidr {
  return text.includes('/') ? parseCidr(text) : { network: parseIpv4(text), prefix: 32 };
}

/** Number of addresses in a block (2^(32-prefix)). */
function blockSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

/** Prefix length of a CIDR block. */
export function prefixOf(cidr: string): number {
  return parseCidr(cidr).prefix;
}

/** Dotted netmask of a CIDR block (e.g. 10.0.0.0/24 -> 255.255.255.0). */
export function netmaskOf(cidr: string): string {
  return formatIpv4(prefixToMask(parseCidr(cidr).prefix));
}

/** Network address of a CIDR block (host bits of the input may be set). */
export function networkOf(cidr: string): string {
  return formatIpv4(parseCidr(cidr, { strict: false }).network);
}

/** Broadcast (last) address of a CIDR block (host bits of the input may be set). */
export function broadcastOf(cidr: string): string {
  const c = parseCidr(cidr, { strict: false });
  return formatIpv4(c.network + blockSize(c) - 1);
}

/** True when `inner` (an address or a CIDR block) lies entirely inside CIDR block `outer`. */
export function contains(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = parseBlock(inner);
  return i.prefix >= o.prefix && i.network >= o.network && i.network + blockSize(i) <= o.network + blockSize(o);
}

/** True when two blocks (addresses or CIDRs) share at least one address. */
export function overlaps(a: string, b: string): boolean {
  const x = parseBlock(a);
  const y = parseBlock(b);
  return x.network < y.network + blockSize(y) && y.network < x.network + blockSize(x);
}

/** Usable host addresses in a block: 2^(32-p)-2, but 2 for a /31 and 1 for a /32 (RFC 3021). */
export function hostCount(cidr: string): number {
  const c = parseCidr(cidr);
  if (c.prefix >= 31) return blockSize(c);
  return blockSize(c) - 2;
}

/** The first usable host address of a block as a uint32. */
function firstHost(c: Cidr): number {
  return c.prefix >= 31 ? c.network : c.network + 1;
}

/** The n-th usable host address (n starts at 1: nthHost("10.0.0.0/24", 1) = "10.0.0.1"). */
export function nthHost(cidr: string, n: number): string {
  const count = hostCount(cidr);
  if (!Number.isInteger(n) || n < 1 || n > count) throw invalid(`host number ${n} is out of range 1-${count} for ${cidr}`);
  return formatIpv4(firstHost(parseCidr(cidr)) + n - 1);
}

/**
 * The first free host address of `cidr`: skips the network and broadcast addresses, every address in
 * `used`, and every address or CIDR block in `exclude` (pass the gateway here). Throws Conflict when full.
 */
export function allocateAddress(cidr: string, used: Set<string>, exclude: string[] = []): string {
  const c = parseCidr(cidr);
  const excluded = exclude.map(parseBlock);
  const first = firstHost(c);
  const last = first + hostCount(cidr) - 1;
  for (let n = first; n <= last; n++) {
    const ip = formatIpv4(n);
    if (used.has(ip)) continue;
    if (excluded.some((e) => n >= e.network && n < e.network + blockSize(e))) continue;
    return ip;
  }
  throw conflict(`no free address left in ${cidr}`);
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** Validate a unicast Ethernet MAC ("52:54:00:12:34:56", any case) and return it lower-cased. */
export function validateMac(text: string): string {
  if (typeof text !== 'string') throw invalid(`MAC address must be a string, got ${typeof text}`);
  const mac = text.toLowerCase();
  if (!MAC.test(mac)) throw invalid(`"${text}" is not a MAC address (expected six colon-separated hex bytes, e.g. 52:54:00:12:34:56)`);
  if (parseInt(mac.slice(0, 2), 16) & 1) throw invalid(`"${text}" is a multicast MAC address; a NIC needs a unicast one`);
  if (mac === '00:00:00:00:00:00') throw invalid(`"${text}" is the all-zero MAC address`);
  return mac;
}

/** True when `text` is a valid unicast MAC address. */
export function isMac(text: string): boolean {
  try {
    validateMac(text);
    return true;
  } catch {
    return false;
  }
}

/** A random unicast MAC under `prefix` (1-5 colon-separated bytes; default QEMU's 52:54:00). */
export function randomMac(prefix = '52:54:00', random: (n: number) => Buffer = randomBytes): string {
  const head = prefix.toLowerCase().split(':');
  if (head.length < 1 || head.length > 5 || !head.every((b) => /^[0-9a-f]{2}$/.test(b))) {
    throw invalid(`MAC prefix "${prefix}" must be 1-5 colon-separated hex bytes, e.g. 52:54:00`);
  }
  if (parseInt(head[0]!, 16) & 1) throw invalid(`MAC prefix "${prefix}" has the multicast bit set`);
  for (;;) {
    const tail = [...random(6 - head.length)].map((b) => b.toString(16).padStart(2, '0'));
    const mac = [...head, ...tail].join(':');
    if (mac !== '00:00:00:00:00:00') return mac;
  }
}
