// The audit log: append-only JSON lines, one file per UTC day, under STATE/audit (dir 0700, files 0600).
// Why files and not the store: an entry is written on every mutating call, and a store write would
// wake every watcher and grow the one database; a day file is appended in O(1), a query reads only the
// days it needs (newest first, stopping at `limit`), and retention deletes whole files.
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { AuditIds, auditIdMs, dayOf, type AuditEntry, type AuditPage, type AuditQuery } from './audit-entry.js';

/** Default and largest page of an audit query. */
export const AUDIT_PAGE_DEFAULT = 100;
export const AUDIT_PAGE_MAX = 1000;
/** Default retention of audit entries, in days. */
export const AUDIT_RETENTION_DAYS = 90;

const DAY_FILE = /^(\d{4}-\d{2}-\d{2})\.jsonl$/;
const DAY_MS = 86_400_000;

/** The audit log of one daemon. */
export class AuditLog {
  private ids = new AuditIds();
  private timer?: NodeJS.Timeout;

  constructor(
    private dir: string,
    private retentionDays = AUDIT_RETENTION_DAYS,
    private now: () => number = Date.now,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  }

  /** Append one entry (the id and time are given here); returns it. Synchronous: an entry is never lost to a crash after the answer. */
  append(e: Omit<AuditEntry, 'id' | 'time'>): AuditEntry {
    const ms = this.now();
    const id = this.ids.next(ms);
    // id first: a query skips lines by comparing their first bytes, without parsing them.
    const entry: AuditEntry = { id, time: new Date(auditIdMs(id)).toISOString(), ...e };
    appendFileSync(join(this.dir, `${dayOf(auditIdMs(id))}.jsonl`), JSON.stringify(entry) + '\n', { mode: 0o600 });
    return entry;
  }

  /** Entries matching `q`, newest first, a page at a time. */
  query(q: AuditQuery = {}): AuditPage {
    const limit = Math.min(Math.max(q.limit ?? AUDIT_PAGE_DEFAULT, 1), AUDIT_PAGE_MAX);
    const sinceMs = q.since ? Date.parse(q.since) : -Infinity;
    const untilMs = q.until ? Date.parse(q.until) : Infinity;
    // Entries strictly before this id (the cursor), and strictly before `until`.
    const upper = q.after;
    const sinceDay = Number.isFinite(sinceMs) ? dayOf(sinceMs) : '';
    const lastDay = [untilMs, upper ? auditIdMs(upper) : Infinity].reduce((a, b) => Math.min(a, b));
    const untilDay = Number.isFinite(lastDay) ? dayOf(lastDay) : '9999-12-31';
    const days = this.days().filter((d) => d >= sinceDay && d <= untilDay).sort().reverse();
    const out: AuditEntry[] = [];
    for (const day of days) {
      const lines = readFileSync(join(this.dir, `${day}.jsonl`), 'utf8').split('\n');
      for (let i = lines.length - 1; i >= 0; i--) {
        const line = lines[i]!;
        if (line.length < 30) continue; // empty, or a torn last line
        const id = line.slice(7, 27); // {"id":"<20 chars>"
        if (upper && id >= upper) continue;
        const ms = auditIdMs(id);
        if (ms >= untilMs) continue;
        if (ms < sinceMs) return { entries: out }; // older than `since`: nothing further can match
        let e: AuditEntry;
        try {
          e = JSON.parse(line) as AuditEntry;
        } catch {
          continue; // a torn line from a crash mid-write
        }
        if (q.user !== undefined && e.user !== q.user) continue;
        out.push(e);
        if (out.length === limit) return { entries: out, next: e.id };
      }
    }
    return { entries: out };
  }

  /** Delete the day files older than the retention; returns the days removed. */
  sweep(): string[] {
    const cutoff = dayOf(this.now() - this.retentionDays * DAY_MS);
    const old = this.days().filter((d) => d < cutoff);
    for (const d of old) rmSync(join(this.dir, `${d}.jsonl`), { force: true });
    return old;
  }

  /** Sweep now and then every `everyMs` (default 6 h) until stop(). */
  start(everyMs = 6 * 3_600_000): void {
    this.sweep();
    this.timer = setInterval(() => this.sweep(), everyMs);
    this.timer.unref();
  }

  /** Stop the sweeps. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private days(): string[] {
    return readdirSync(this.dir).flatMap((f) => DAY_FILE.exec(f)?.[1] ?? []);
  }
}
