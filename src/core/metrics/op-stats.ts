// Counts of ended operations by type and status, and a histogram of their durations by type, kept in
// memory since the daemon started (Prometheus counters start again at 0 with the process, as usual).

/** Upper bounds (seconds) of the duration histogram's buckets; +Inf is implied. */
export const DURATION_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600] as const;

/** A snapshot of the operation statistics. */
export interface OpStatsSnapshot {
  counts: { type: string; status: string; n: number }[];
  /** Per type: cumulative counts per bucket of DURATION_BUCKETS (then +Inf = count), sum and count. */
  durations: { type: string; buckets: number[]; sum: number; count: number }[];
}

/** Limits the number of distinct types kept (types are code's names, this is a guard, not a policy). */
const MAX_TYPES = 500;

/** The operation statistics; record() is O(buckets) and never waits on anything. */
export class OperationStats {
  private counts = new Map<string, { type: string; status: string; n: number }>();
  private durations = new Map<string, { type: string; buckets: number[]; sum: number; count: number }>();

  /** Count one ended operation of `type` that took `seconds`. */
  record(type: string, status: string, seconds: number): void {
    if (!this.durations.has(type) && this.durations.size >= MAX_TYPES) type = 'other';
    const k = `${type}\u0000${status}`;
    const c = this.counts.get(k) ?? { type, status, n: 0 };
    c.n++;
    this.counts.set(k, c);
    const d = this.durations.get(type) ?? { type, buckets: DURATION_BUCKETS.map(() => 0), sum: 0, count: 0 };
    const s = Math.max(0, seconds);
    DURATION_BUCKETS.forEach((le, i) => {
      if (s <= le) d.buckets[i]!++;
    });
    d.sum += s;
    d.count++;
    this.durations.set(type, d);
  }

  /** A copy of the statistics, sorted by type and status. */
  snapshot(): OpStatsSnapshot {
    const by = (a: { type: string; status?: string }, b: { type: string; status?: string }) => (a.type + '\u0000' + (a.status ?? '')).localeCompare(b.type + '\u0000' + (b.status ?? ''));
    return {
      counts: [...this.counts.values()].map((c) => ({ ...c })).sort(by),
      durations: [...this.durations.values()].map((d) => ({ ...d, buckets: [...d.buckets] })).sort(by),
    };
  }
}
