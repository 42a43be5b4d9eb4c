import { createHash } from 'node:crypto';
import { conflict, invalid } from '../../../lib/errors.js';
import { validateIfName } from '../validate.js';

// Per-NIC bandwidth limits rendered as argv arrays (never a shell string), one plan per tap.
//
// Directions are the GUEST's:
//  - ingress = traffic toward the guest. The host sends it out through the tap, so it is shaped by a tbf root
//    qdisc on the tap (tc-tbf(8)).
//  - egress = traffic from the guest. The host RECEIVES it on the tap, and Linux cannot queue (shape) received
//    traffic. Policing it (act_police) is not an option on every kernel (the build hosts' kernel has neither
//    act_police, act_gact nor cls_matchall, and cannot load modules), so it is redirected instead: an ingress
//    qdisc on the tap with one u32 filter that matches every packet (`match u32 0 0`, tc-u32(8)) and a mirred
//    action (tc-mirred(8)) sends it to the egress of a per-tap ifb device, where a tbf root qdisc shapes it; the
//    ifb hands it back to the stack as if received on the tap. Kernel pieces: sch_tbf, sch_ingress, cls_u32,
//    act_mirred, ifb.
// The ifb's name is derived from the tap's (ifbNameFor) and it carries the alias "nimbo-qos:TAP", so an ifb whose
// tap is gone can be found and removed (findOrphanIfbs, sweepOrphanIfbs in bandwidth.ts).
// Limits already in force are changed with `replace`, so applying the same or new limits again leaves no unlimited
// gap; only what is present is removed (the plan is rendered from the state read back first).

/** Bandwidth limits of one NIC in bits per second, from the guest's point of view; absent or 0 = unlimited. */
export interface BandwidthLimits {
  /** Toward the guest (the tap transmits it): tbf on the tap's root. */
  ingressBps?: number;
  /** From the guest (the tap receives it): redirected to the tap's ifb and shaped by tbf there. */
  egressBps?: number;
}

/** Lowest and highest accepted rates (bit/s). */
export const MIN_RATE = 8_000;
export const MAX_RATE = 100_000_000_000;

const UNITS: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 };
const RATE = /^([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)$/;

/** Parse a rate like "100mbit", "1gbit", "500kbit", "2.5gbit" or a plain number of bit/s (SI units, as tc). */
export function parseRate(text: string | number): number {
  if (typeof text === 'number') return validateRate(text);
  if (typeof text !== 'string') throw invalid(`rate must be a string like "100mbit", got ${text === null ? 'null' : typeof text}`);
  const m = RATE.exec(text.trim().toLowerCase());
  if (!m) throw invalid(`rate "${text}" is invalid: use a number with bit, kbit, mbit or gbit, e.g. 100mbit`);
  const unit = m[2] || 'bit';
  const mult = UNITS[unit];
  if (mult === undefined) {
    const hint = /bps$|^[kmgt]?b$/.test(unit) ? ' (tc reads "bps" as bytes per second; nimbo takes bits: write mbit, not mbps)' : '';
    throw invalid(`rate "${text}" has an unknown unit "${unit}"${hint}; use bit, kbit, mbit or gbit`);
  }
  return validateRate(Math.round(Number(m[1]) * mult), text);
}

/** Check a rate in bit/s: an integer from MIN_RATE to MAX_RATE. */
export function validateRate(bits: number, text: string | number = bits): number {
  if (typeof bits !== 'number' || !Number.isInteger(bits) || bits < MIN_RATE || bits > MAX_RATE) {
    throw invalid(`rate ${text} is out of range: use 8kbit to 100gbit`);
  }
  return bits;
}

/** Format bit/s for tc and for users: the largest unit that divides it exactly ("100mbit"). */
export function formatRate(bits: number): string {
  for (const u of ['gbit', 'mbit', 'kbit'] as const) if (bits % UNITS[u]! === 0) return `${bits / UNITS[u]!}${u}`;
  return `${bits}bit`;
}

/** Bucket size in bytes: 10 ms at the rate, at least 10 full-size frames (tbf segments larger GSO packets). */
export function burstBytes(bits: number): number {
  return Math.max(Math.ceil(bits / 8 / 100), 15_140);
}

/** The limits with 0/absent turned into null and the others validated. */
export function normalizeLimits(limits: BandwidthLimits): { ingressBps: number | null; egressBps: number | null } {
  if (limits === null || typeof limits !== 'object') throw invalid('bandwidth limits must be an object');
  const one = (v: number | undefined, what: string): number | null => {
    if (v === undefined || v === 0) return null;
    try {
      return validateRate(v);
    } catch {
      throw invalid(`${what} limit ${String(v)} is out of range: use 0 (unlimited) or 8kbit to 100gbit in bit/s`);
    }
  };
  return { ingressBps: one(limits.ingressBps, 'ingress'), egressBps: one(limits.egressBps, 'egress') };
}

/** Names of nimbo's ifb devices start with this. */
export const IFB_PREFIX = 'nqifb';
/** The ifb's alias is this plus the tap name. */
export const IFB_ALIAS_PREFIX = 'nimbo-qos:';

/** The ifb device that shapes a tap's received traffic: "nqifb" + 10 hex digits of sha256(tap) (15 characters). */
export function ifbNameFor(tap: string): string {
  validateIfName(tap, 'tap name');
  return IFB_PREFIX + createHash('sha256').update(tap).digest('hex').slice(0, 10);
}

/** What a device name currently is: missing, an ifb, or some other device. */
export type LinkKind = 'absent' | 'ifb' | 'other';

/** One command of a plan. `mayBeAbsent`: a removal that may find nothing to remove (the tap vanished meanwhile). */
export interface QosStep {
  argv: string[];
  mayBeAbsent?: boolean;
}

/** tc/ip failures that only mean "there was nothing to remove" (messages of iproute2 6.1 and kernels 6.1-6.18). */
export const ABSENT_ERROR = /Cannot delete qdisc with handle of zero|Cannot find specified qdisc|Invalid handle|Cannot find device|does not exist/i;

/** What is on the host now for one tap: nimbo's root tbf on the tap, an ingress qdisc on the tap, the ifb's name. */
export interface QosState {
  tapRoot: boolean;
  tapIngress: boolean;
  ifb: LinkKind;
}

/** Classify `ip -j -d link show dev NAME` output (null when the command said the device does not exist). */
export function parseLinkKind(json: string | null): LinkKind {
  if (json === null) return 'absent';
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    throw invalid('ip link output is not JSON');
  }
  const link = Array.isArray(data) ? (data[0] as { linkinfo?: { info_kind?: unknown } } | undefined) : undefined;
  if (!link || typeof link !== 'object') return 'absent';
  return link.linkinfo?.info_kind === 'ifb' ? 'ifb' : 'other';
}

/** From `tc -j qdisc show dev TAP` (null when the tap does not exist): is nimbo's root tbf there, is an ingress qdisc? */
export function parseTapQdiscs(json: string | null): { tapRoot: boolean; tapIngress: boolean } {
  if (json === null) return { tapRoot: false, tapIngress: false };
  const list = parseQdiscs(json);
  return {
    tapRoot: list.some((q) => q.root === true && q.kind === 'tbf' && q.handle === '1:'),
    tapIngress: list.some((q) => q.kind === 'ingress'),
  };
}

/** argv that prints the JSON parseLinkKind reads. */
export function linkShowArgv(dev: string): string[] {
  return ['ip', '-j', '-d', 'link', 'show', 'dev', validateIfName(dev, 'device name')];
}

const tbf = (dev: string, bits: number): string[] =>
  ['tc', 'qdisc', 'replace', 'dev', dev, 'root', 'handle', '1:', 'tbf', 'rate', formatRate(bits), 'burst', String(burstBytes(bits)), 'latency', '50ms'];

const delRoot = (dev: string): QosStep => ({ argv: ['tc', 'qdisc', 'del', 'dev', dev, 'root'], mayBeAbsent: true });
const delIngress = (dev: string): QosStep => ({ argv: ['tc', 'qdisc', 'del', 'dev', dev, 'ingress'], mayBeAbsent: true });
const delLink = (dev: string): QosStep => ({ argv: ['ip', 'link', 'del', 'dev', dev], mayBeAbsent: true });

/**
 * Commands that make the tap's limits exactly `limits`, whatever was set before (`state`: what is there now).
 * A device under the ifb's name that is not an ifb is a Conflict (nimbo never touches it).
 */
export function renderBandwidth(tap: string, limits: BandwidthLimits, state: QosState): QosStep[] {
  validateIfName(tap, 'tap name');
  const { ingressBps, egressBps } = normalizeLimits(limits);
  const dev = ifbNameFor(tap);
  const out: QosStep[] = [];
  if (ingressBps !== null) out.push({ argv: tbf(tap, ingressBps) });
  else if (state.tapRoot) out.push(delRoot(tap));
  if (egressBps === null) {
    if (state.tapIngress) out.push(delIngress(tap)); // removes the redirect first, then its target
    if (state.ifb === 'ifb') out.push(delLink(dev));
    return out;
  }
  if (state.ifb === 'other') throw conflict(`device ${dev} (needed to limit ${tap}'s egress) exists and is not an ifb device`);
  if (state.ifb === 'absent') out.push({ argv: ['ip', 'link', 'add', 'name', dev, 'type', 'ifb'] });
  out.push(
    { argv: ['ip', 'link', 'set', 'dev', dev, 'alias', IFB_ALIAS_PREFIX + tap, 'up'] },
    { argv: tbf(dev, egressBps) },
    { argv: ['tc', 'qdisc', 'replace', 'dev', tap, 'handle', 'ffff:', 'ingress'] },
    {
      argv: ['tc', 'filter', 'replace', 'dev', tap, 'parent', 'ffff:', 'protocol', 'all', 'prio', '1', 'handle', '800::800',
        'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', dev],
    },
  );
  return out;
}

/** Commands that remove every limit of a tap (its qdiscs and its ifb); nothing when nothing is there. */
export function renderClear(tap: string, state: QosState): QosStep[] {
  return renderBandwidth(tap, {}, state);
}

/**
 * From `ip -j -d link show` (all links), the ifb devices nimbo made whose tap no longer exists
 * (name starts with IFB_PREFIX, alias "nimbo-qos:TAP", no link named TAP).
 */
export function findOrphanIfbs(json: string): string[] {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    throw invalid('ip link output is not JSON');
  }
  if (!Array.isArray(data)) throw invalid('ip link JSON is not a list');
  const links = data as { ifname?: unknown; ifalias?: unknown; linkinfo?: { info_kind?: unknown } }[];
  const names = new Set(links.map((l) => l.ifname));
  return links
    .filter((l) => typeof l.ifname === 'string' && l.ifname.startsWith(IFB_PREFIX) && l.linkinfo?.info_kind === 'ifb')
    .filter((l) => typeof l.ifalias === 'string' && l.ifalias.startsWith(IFB_ALIAS_PREFIX))
    .filter((l) => {
      const tap = (l.ifalias as string).slice(IFB_ALIAS_PREFIX.length);
      return !names.has(tap) && ifbNameFor_(tap) === l.ifname;
    })
    .map((l) => l.ifname as string)
    .sort();
}

// ifbNameFor without throwing on a malformed alias (then it is not ours).
function ifbNameFor_(tap: string): string | null {
  try {
    return ifbNameFor(tap);
  } catch {
    return null;
  }
}

/**
 * The limits in force, from `tc -j qdisc show dev TAP` and `tc -j qdisc show dev IFB` (null when the ifb is absent):
 * a root tbf on the tap is the ingress limit; an ingress qdisc on the tap plus a root tbf on the ifb is the egress
 * limit. tc keeps rates in bytes per second, so a rate that is not a multiple of 8 bit/s reads back rounded down.
 */
export function parseBandwidth(tapQdiscs: string, ifbQdiscs: string | null): BandwidthLimits {
  const rootTbf = (json: string): number | undefined => {
    const list = parseQdiscs(json);
    const q = list.find((x) => x.root === true && x.kind === 'tbf');
    const rate = q?.options?.rate;
    return typeof rate === 'number' ? rate * 8 : undefined;
  };
  const out: BandwidthLimits = {};
  const ingress = rootTbf(tapQdiscs);
  if (ingress !== undefined) out.ingressBps = ingress;
  const hasIngressQdisc = parseQdiscs(tapQdiscs).some((x) => x.kind === 'ingress');
  const egress = ifbQdiscs === null ? undefined : rootTbf(ifbQdiscs);
  if (egress !== undefined && hasIngressQdisc) out.egressBps = egress;
  return out;
}

interface Qdisc {
  kind?: unknown;
  handle?: unknown;
  root?: unknown;
  options?: { rate?: unknown };
}

function parseQdiscs(json: string): Qdisc[] {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    throw invalid('tc qdisc output is not JSON');
  }
  if (!Array.isArray(data)) throw invalid('tc qdisc JSON is not a list');
  return data.filter((x): x is Qdisc => x !== null && typeof x === 'object');
}

/** argv that prints the JSON parseBandwidth reads for one device. */
export function qdiscShowArgv(dev: string): string[] {
  return ['tc', '-j', 'qdisc', 'show', 'dev', validateIfName(dev, 'device name')];
}
