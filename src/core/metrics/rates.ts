// Rates from monotonic counters, the way Prometheus's rate() treats them: a counter that went down was
// reset (the instance restarted, a tap was recreated), and its new value is all that happened since.

/** How much a counter grew from `prev` to `cur`; a drop (or a new `epoch`, e.g. a tap's ifindex) is a reset: the increase is `cur`. Pure. */
export function increase(prev: number, cur: number, prevEpoch?: number, curEpoch?: number): number {
  if (prevEpoch !== curEpoch || cur < prev) return cur;
  return cur - prev;
}

/** Counter values of one thing at one instant (seconds since the epoch), by name; `epochs` mark resets. */
export interface CounterSet {
  at: number;
  values: Record<string, number>;
  epochs?: Record<string, number>;
}

/**
 * Per-second rates between two counter sets, by name: null where the counter is missing on either side or no
 * time passed. Pure.
 */
export function ratesBetween(prev: CounterSet | undefined, cur: CounterSet): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  const dt = prev ? cur.at - prev.at : 0;
  for (const [k, v] of Object.entries(cur.values)) {
    const p = prev?.values[k];
    out[k] = p === undefined || dt <= 0 ? null : increase(p, v, prev!.epochs?.[k], cur.epochs?.[k]) / dt;
  }
  return out;
}

/** Sum of the non-null values, or null when all are null (or there are none). Pure. */
export function sumOrNull(values: readonly (number | null | undefined)[]): number | null {
  let s: number | null = null;
  for (const v of values) if (v !== null && v !== undefined) s = (s ?? 0) + v;
  return s;
}
