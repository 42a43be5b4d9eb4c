import { invalid } from '../../../core/errors.js';
import { validateIfName } from '../validate.js';

// Per-NIC bandwidth limits rendered as tc argv arrays (never a shell string). Reference: tc(8), tc-tbf(8),
// tc-police(8), tc-u32(8) (`match u32 0 0` matches every packet; kernel modules
// sch_tbf, sch_ingress, cls_u32 and act_police are needed, normally autoloaded). Directions are the GUEST's: `ingress` is traffic toward the guest, which is
// the tap's egress (root qdisc); `egress` is traffic from the guest, which the tap receives (ingress qdisc).

/** Bandwidth limits of one NIC in bits per second, from the guest's point of view; absent = unlimited. */
export interface NicBandwidth {
  /** Toward the guest (the tap's transmit side): shaped with a tbf root qdisc. */
  ingress?: number;
  /** From the guest (the tap's receive side): policed (dropped above the rate) on the ingress qdisc. */
  egress?: number;
}

/** Lowest and highest accepted rates (bit/s). */
export const MIN_RATE = 8_000;
export const MAX_RATE = 400_000_000_000;

const UNITS: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9, tbit: 1e12 };
const RATE = /^([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)$/;

/** Parse a rate like "100mbit", "1gbit", "500kbit", "2.5gbit" or a plain number of bit/s (SI units, as tc). */
export function parseRate(text: string | number): number {
  if (typeof text === 'number') return validateRate(text);
  if (typeof text !== 'string') throw invalid(`rate must be a string like "100mbit", got ${typeof text}`);
  const m = RATE.exec(text.trim().toLowerCase());
  if (!m) throw invalid(`rate "${text}" is invalid: use a number with bit, kbit, mbit, gbit or tbit, e.g. 100mbit`);
  const unit = m[2] || 'bit';
  const mult = UNITS[unit];
  if (mult === undefined) {
    const hint = /bps$|^[kmgt]?b$/.test(unit) ? ' (tc reads "bps" as bytes per second; nimbo takes bits: write mbit, not mbps)' : '';
    throw invalid(`rate "${text}" has an unknown unit "${unit}"${hint}; use bit, kbit, mbit, gbit or tbit`);
  }
  return validateRate(Math.round(Number(m[1]) * mult), text);
}

function validateRate(bits: number, text: string | number = bits): number {
  if (!Number.isInteger(bits) || bits < MIN_RATE || bits > MAX_RATE) {
    throw invalid(`rate ${text} is out of range: use 8kbit to 400gbit`);
  }
  return bits;
}

/** Format bit/s for tc and for users: the largest unit that divides it exactly ("100mbit"). */
export function formatRate(bits: number): string {
  for (const u of ['tbit', 'gbit', 'mbit', 'kbit'] as const) if (bits % UNITS[u]! === 0) return `${bits / UNITS[u]!}${u}`;
  return `${bits}bit`;
}

/** Bucket size in bytes: 10 ms at the rate, at least 10 full-size frames (tbf segments larger GSO packets). */
export function burstBytes(bits: number): number {
  return Math.max(Math.ceil(bits / 8 / 100), 15_140);
}

/** Commands that remove nimbo's limits from a tap; run each with allowFailure (absent qdiscs make tc fail). */
export function renderTcClear(tap: string): string[][] {
  validateIfName(tap, 'tap name');
  return [
    ['tc', 'qdisc', 'del', 'dev', tap, 'root'],
    ['tc', 'qdisc', 'del', 'dev', tap, 'ingress'],
  ];
}

/**
 * Commands that install the limits on a tap whose limits were cleared first (renderTcClear). An empty list
 * means unlimited in both directions. Policing drops above the rate (TCP backs off); ifb would shape instead.
 */
export function renderTcApply(tap: string, limits: NicBandwidth): string[][] {
  validateIfName(tap, 'tap name');
  const out: string[][] = [];
  if (limits.ingress !== undefined) {
    const r = validateRate(limits.ingress);
    out.push(['tc', 'qdisc', 'replace', 'dev', tap, 'root', 'handle', '1:', 'tbf', 'rate', formatRate(r), 'burst', String(burstBytes(r)), 'latency', '50ms']);
  }
  if (limits.egress !== undefined) {
    const r = validateRate(limits.egress);
    out.push(
      ['tc', 'qdisc', 'add', 'dev', tap, 'handle', 'ffff:', 'ingress'],
      ['tc', 'filter', 'add', 'dev', tap, 'parent', 'ffff:', 'protocol', 'all', 'prio', '1', 'u32', 'match', 'u32', '0', '0',
        'action', 'police', 'rate', formatRate(r), 'burst', String(burstBytes(r)), 'conform-exceed', 'drop'],
    );
  }
  return out;
}

/** Clear, then apply: the full sequence for setting a tap's limits (clear commands may fail harmlessly). */
export function renderTcPlan(tap: string, limits: NicBandwidth): { clear: string[][]; apply: string[][] } {
  return { clear: renderTcClear(tap), apply: renderTcApply(tap, limits) };
}
