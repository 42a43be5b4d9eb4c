// What the API asks of metrics: the exposition of the latest sample, and history ranges for the graphs.
import type { HostMetrics, InstanceMetrics, MetricsRangeName } from '../../shared/metrics-types.js';
import { renderExposition } from './exposition.js';
import type { MetricsHistory } from './history.js';
import type { OperationStats } from './op-stats.js';
import { HOST_KEY, HOST_SERIES, INSTANCE_SERIES, type MetricsSampler } from './sampler.js';

/** Seconds of each range. */
export const RANGE_SECONDS: Readonly<Record<MetricsRangeName, number>> = { '1h': 3600, '6h': 6 * 3600, '24h': 86_400, '7d': 7 * 86_400, '30d': 30 * 86_400 };

/** Round to 4 significant digits (graphs need no more; answers stay small). Pure. */
const round = (v: number | null): number | null => (v === null ? null : Number(v.toPrecision(4)));

/** The metrics the routes serve. */
export class MetricsService {
  constructor(private sampler: Pick<MetricsSampler, 'latest'>, private history: MetricsHistory, private ops: OperationStats, private now: () => number = Date.now) {}

  /** GET /metrics: the text exposition of the latest sample (no I/O). */
  exposition(): string {
    return renderExposition(this.sampler.latest(), this.ops.snapshot());
  }

  private read<K extends string>(key: string, names: readonly K[], range: MetricsRangeName) {
    const r = this.history.read(key, names.length, RANGE_SECONDS[range], Math.floor(this.now() / 1000));
    const series = Object.fromEntries(names.map((n, i) => [n, r.series[i]!.map(round)])) as Record<K, (number | null)[]>;
    return { range, step: r.step, t: r.t, series };
  }

  /** The history of the instance with UUID `uuid`. */
  instance(uuid: string, range: MetricsRangeName): InstanceMetrics {
    return this.read(uuid, INSTANCE_SERIES, range);
  }

  /** The history of the host. */
  host(range: MetricsRangeName): HostMetrics {
    return this.read(HOST_KEY, HOST_SERIES, range);
  }
}
