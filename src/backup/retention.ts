// Retention as restic (`forget --keep-*`) and Proxmox define it: walking the snapshots newest first,
// each rule keeps a snapshot when it is the first one seen of a new period (hour, day, ISO week, month,
// year; keep-last: every snapshot) until the rule has kept its N. A snapshot any rule keeps is kept, with
// the rules as reasons. Periods are in UTC. Pure.
import { invalid } from '../lib/errors.js';

/** How many of each period to keep. */
export interface RetentionPolicy {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
}

/** The decision: what stays (and why), what goes. */
export interface RetentionResult {
  keep: { id: string; reasons: string[] }[];
  remove: string[];
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** ISO 8601 week-year and week of a UTC date. */
export function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7; // Monday = 1 ... Sunday = 7
  t.setUTCDate(t.getUTCDate() + 4 - day); // the Thursday of this week decides its year
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${pad(week)}`;
}

const RULES: { key: keyof RetentionPolicy; reason: string; period: (d: Date, id: string) => string }[] = [
  { key: 'keepLast', reason: 'last', period: (_d, id) => id },
  { key: 'keepHourly', reason: 'hourly', period: (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}` },
  { key: 'keepDaily', reason: 'daily', period: (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` },
  { key: 'keepWeekly', reason: 'weekly', period: (d) => isoWeek(d) },
  { key: 'keepMonthly', reason: 'monthly', period: (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}` },
  { key: 'keepYearly', reason: 'yearly', period: (d) => String(d.getUTCFullYear()) },
];

/** Refuse a policy that keeps nothing (it would remove every backup) or has a bad count. */
export function validatePolicy(p: RetentionPolicy): RetentionPolicy {
  for (const r of RULES) {
    const v = p[r.key];
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 100_000)) throw invalid(`${r.key} must be a whole number from 0 to 100000`);
  }
  if (!RULES.some((r) => (p[r.key] ?? 0) > 0)) throw invalid('a retention policy must keep something: give at least one keep-last/hourly/daily/weekly/monthly/yearly above 0');
  return p;
}

/** Which snapshots a policy keeps and removes (their order in the result: newest first). */
export function selectRetention(snaps: { id: string; time: string }[], policy: RetentionPolicy): RetentionResult {
  validatePolicy(policy);
  const sorted = [...snaps].sort((a, b) => b.time.localeCompare(a.time) || b.id.localeCompare(a.id));
  const left = new Map(RULES.map((r) => [r.key, policy[r.key] ?? 0]));
  const last = new Map<string, string>();
  const keep: RetentionResult['keep'] = [];
  const remove: string[] = [];
  for (const s of sorted) {
    const d = new Date(s.time);
    if (Number.isNaN(d.getTime())) throw invalid(`snapshot ${s.id} has no valid time (${s.time})`);
    const reasons: string[] = [];
    for (const r of RULES) {
      if ((left.get(r.key) ?? 0) <= 0) continue;
      const p = r.period(d, s.id);
      if (last.get(r.key) === p) continue;
      last.set(r.key, p);
      left.set(r.key, left.get(r.key)! - 1);
      reasons.push(r.reason);
    }
    if (reasons.length) keep.push({ id: s.id, reasons });
    else remove.push(s.id);
  }
  return { keep, remove };
}
