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

const ALIASES: Record<string, string> = { '@hourly': '0 * * * *', '@daily': '0 0 * * *', '@weekly': '0 0 * * 0', '@monthly': '0 0 1 * *' };
const RANGES: [number, number][] = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];
const NAMES = ['minute', 'hour', 'day of month', 'month', 'day of week'];

function field(text: string, i: number): Set<number> {
  const [lo, hi] = RANGES[i]!;
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw invalid(`cron ${NAMES[i]} field ${JSON.stringify(text)} is not valid`);
    const from = m[1] === '*' ? lo : Number(m[2]);
    const to = m[1] === '*' ? hi : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? hi : from;
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    if (from < lo || to > hi || from > to || step < 1) throw invalid(`cron ${NAMES[i]} field ${JSON.stringify(text)} is out of range ${lo}-${hi}`);
    for (let v = from; v <= to; v += step) out.add(i === 4 && v === 7 ? 0 : v);
  }
  return out;
}

/** Parse "M H DOM MON DOW" or @hourly/@daily/@weekly/@monthly; throws InvalidArgument saying what is wrong. */
export function parseCron(expr: string): Cron {
  const text = ALIASES[expr.trim()] ?? expr.trim();
  const parts = text.split(/\s+/);
  if (parts.length !== 5) throw invalid(`cron ${JSON.stringify(expr)} must have 5 fields (minute hour day-of-month month day-of-week) or be @hourly, @daily, @weekly, @monthly`);
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
