import { invalid } from './errors.js';

/** A parsed 5-field cron expression (minute hour day-of-month month day-of-week), in UTC. */
export interface Cron {
  minute: Set<number>;
  hour: Set<number>;
  dom: Set<number>;
  month: Set<number>;
  dow: Set<number>;
  domAny: boolean;
  dowAny: boolean;
}

const ALIASES: Record<string, string> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
};
// Names as in Vixie cron, case-insensitive; ranges of names (MON-FRI) work like numbers.
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const RANGES: [number, number][] = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];
const NAMES = ['minute', 'hour', 'day of month', 'month', 'day of week'];

/** Replace month (field 3) or weekday (field 4) names by their numbers; other fields are left as they are. */
function numbered(text: string, i: number): string {
  const names = i === 3 ? MONTHS : i === 4 ? DAYS : undefined;
  if (!names) return text;
  return text.replace(/[A-Za-z]+/g, (w) => {
    const n = names.indexOf(w.toUpperCase());
    if (n < 0) throw invalid(`cron ${NAMES[i]} field ${JSON.stringify(text)}: ${JSON.stringify(w)} is not one of ${names.join(' ')}`);
    return String(i === 3 ? n + 1 : n);
  });
}

function field(raw: string, i: number): Set<number> {
  const [lo, hi] = RANGES[i]!;
  const out = new Set<number>();
  const text = numbered(raw, i);
  for (const part of text.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw invalid(`cron ${NAMES[i]} field ${JSON.stringify(raw)} is not valid`);
    const from = m[1] === '*' ? lo : Number(m[2]);
    const to = m[1] === '*' ? hi : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? hi : from;
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    if (from < lo || to > hi || from > to || step < 1) throw invalid(`cron ${NAMES[i]} field ${JSON.stringify(raw)} is out of range ${lo}-${hi}`);
    for (let v = from; v <= to; v += step) out.add(i === 4 && v === 7 ? 0 : v);
  }
  return out;
}

/** Parse "M H DOM MON DOW" (names JAN-DEC, SUN-SAT allowed) or an @alias; throws InvalidArgument saying what is wrong. */
export function parseCron(expr: string): Cron {
  const trimmed = expr.trim();
  // Own keys only: "constructor" or "__proto__" must not find Object.prototype's members.
  const alias = Object.hasOwn(ALIASES, trimmed.toLowerCase()) ? ALIASES[trimmed.toLowerCase()] : undefined;
  if (trimmed.startsWith('@') && !alias) throw invalid(`cron ${JSON.stringify(expr)} is not one of ${Object.keys(ALIASES).join(', ')}`);
  const text = alias ?? trimmed;
  const parts = text.split(/\s+/);
  if (parts.length !== 5) throw invalid(`cron ${JSON.stringify(expr)} must have 5 fields (minute hour day-of-month month day-of-week) or be one of ${Object.keys(ALIASES).join(', ')}`);
  const [minute, hour, dom, month, dow] = parts.map((p, i) => field(p, i)) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  return { minute, hour, dom, month, dow, domAny: parts[2] === '*', dowAny: parts[4] === '*' };
}

/** Does the cron fire at this minute (UTC)? Day-of-month and day-of-week are ORed when both are set, as in cron. */
export function cronMatches(c: Cron, at: Date): boolean {
  if (!c.minute.has(at.getUTCMinutes()) || !c.hour.has(at.getUTCHours()) || !c.month.has(at.getUTCMonth() + 1)) return false;
  const dom = c.dom.has(at.getUTCDate());
  const dow = c.dow.has(at.getUTCDay());
  if (c.domAny && c.dowAny) return true;
  if (c.domAny) return dow;
  if (c.dowAny) return dom;
  return dom || dow;
}

/** The first minute after `after` (exclusive) and not later than `until` at which the cron fires, or undefined. */
export function nextFire(c: Cron, after: Date, until: Date): Date | undefined {
  const t = new Date(Math.floor(after.getTime() / 60_000) * 60_000 + 60_000);
  for (let i = 0; t <= until && i < 60 * 24 * 366; i++, t.setTime(t.getTime() + 60_000)) if (cronMatches(c, t)) return new Date(t);
  return undefined;
}
