// Retention (prune) policy with restic's `forget --keep-*` semantics: snapshots newest first; each bucket (last,
// hourly, daily, weekly, monthly, yearly) keeps the newest snapshot of each distinct period until it has counted N
// periods; a snapshot is kept if any bucket keeps it. Periods are computed in UTC (restic uses the snapshot's local
// time); weeks are ISO 8601 weeks (Monday first, week-numbering year).
import { invalid } from '../lib/errors.js';

/** How many of each period to keep (0 or absent: that bucket keeps nothing). */
export interface RetentionPolicy {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
}

/** What a policy keeps (with reasons, newest first) and removes. */
export interface RetentionResult {
  keep: { id: string; reasons: string[] }[];
  remove: string[];
}

const BUCKETS = [
  ['keepLast', 'last'],
  ['keepHourly', 'hourly'],
  ['keepDaily', 'daily'],
  ['keepWeekly', 'weekly'],
  ['keepMonthly', 'monthly'],
  ['keepYearly', 'yearly'],
] as const;

/** ISO 8601 week of a UTC date as year*100 + week. */
export function isoWeek(d: Date): number {
  const day = (d.getUTCDay() + 6) % 7; // Monday = 0
  const thursday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 3 - day);
  const year = new Date(thursday).getUTCFullYear();
  return year * 100 + Math.floor((thursday - Date.UTC(year, 0, 1)) / 86_400_000 / 7) + 1;
}

function period(kind: string, d: Date, nr: number): number {
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + 1;
  switch (kind) {
    case 'last': return nr;
    case 'hourly': return ((y * 100 + m) * 100 + d.getUTCDate()) * 100 + d.getUTCHours();
    case 'daily': return (y * 100 + m) * 100 + d.getUTCDate();
    case 'weekly': return isoWeek(d);
    case 'monthly': return y * 100 + m;
    default: return y;
  }
}

/** Refuse a policy that keeps everything (all counts empty) or has a count that is not a non-negative integer. */
export function validatePolicy(p: RetentionPolicy): RetentionPolicy {
  for (const [k] of BUCKETS) {
    const v = p[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw invalid(`${k} must be a non-negative integer (got ${String(v)})`);
  }
  if (!BUCKETS.some(([k]) => (p[k] ?? 0) > 0)) {
    throw invalid('a retention policy needs at least one of keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly (an empty policy would keep everything)');
  }
  return p;
}

/** Apply `policy` to snapshots (any order); an empty policy keeps everything (validatePolicy refuses it). */
export function selectRetention(snaps: { id: string; time: string | Date }[], policy: RetentionPolicy): RetentionResult {
  const list = snaps
    .map((s) => ({ id: s.id, t: new Date(s.time) }))
    .sort((a, b) => b.t.getTime() - a.t.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  const buckets = BUCKETS.map(([k, reason]) => ({ count: policy[k] ?? 0, last: Number.NaN, reason }));
  const empty = buckets.every((b) => b.count <= 0);
  const out: RetentionResult = { keep: [], remove: [] };
  list.forEach((s, nr) => {
    if (empty) {
      out.keep.push({ id: s.id, reasons: ['policy is empty'] });
      return;
    }
    const reasons: string[] = [];
    for (const b of buckets) {
      if (b.count <= 0) continue;
      const val = period(b.reason, s.t, nr);
      if (val !== b.last) {
        b.last = val;
        b.count--;
        reasons.push(b.reason);
      }
    }
    if (reasons.length) out.keep.push({ id: s.id, reasons });
    else out.remove.push(s.id);
  });
  return out;
}
