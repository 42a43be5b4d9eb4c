// Wire types of the metrics history API (the web panel's graphs): GET /api/v1/instances/{name}/metrics and
// GET /api/v1/host/metrics. The Prometheus exposition at GET /metrics is text, not JSON.
import { Type, type Static } from '@sinclair/typebox';

/** The most points one answer holds (24 h of 10-s points; 30 days of 5-min points): the range fixes the size, no paging. */
export const METRICS_MAX_POINTS = 8640;

/** The ranges a history answer covers: 1h/6h/24h at 10-s steps, 7d/30d at 5-min steps. */
export const METRICS_RANGES = ['1h', '6h', '24h', '7d', '30d'] as const;
/** One range of METRICS_RANGES. */
export type MetricsRangeName = (typeof METRICS_RANGES)[number];

/** Query of the history routes. */
export const MetricsQuery = Type.Object(
  { range: Type.Optional(Type.Union(METRICS_RANGES.map((r) => Type.Literal(r)), { description: 'how far back (default 1h): 1h, 6h, 24h at 10-s steps; 7d, 30d at 5-min steps' })) },
  { additionalProperties: false },
);
export type MetricsQuery = Static<typeof MetricsQuery>;

/** A series: one value per point of `t`; null where nothing was sampled (the daemon was down, the instance did not exist). */
const Series = (description: string) => Type.Array(Type.Union([Type.Number(), Type.Null()]), { description, maxItems: METRICS_MAX_POINTS });

const head = {
  range: Type.Union(METRICS_RANGES.map((r) => Type.Literal(r))),
  step: Type.Integer({ description: 'seconds between points (10 or 300)' }),
  t: Type.Array(Type.Integer(), { description: 'unix seconds of each point (the start of its step), oldest first', maxItems: METRICS_MAX_POINTS }),
};

/** GET /api/v1/instances/{name}/metrics. */
export const InstanceMetrics = Type.Object({
  ...head,
  series: Type.Object({
    cpu: Series('CPU in use, in cores (the rate of CPU seconds)'),
    memory: Series('memory in use, bytes (VMs: QEMU resident set; containers: the cgroup, page cache included)'),
    diskRead: Series('disk reads, bytes/s'),
    diskWrite: Series('disk writes, bytes/s'),
    netRx: Series('bytes/s the instance received, all NICs'),
    netTx: Series('bytes/s the instance sent, all NICs'),
  }),
});
export type InstanceMetrics = Static<typeof InstanceMetrics>;

/** GET /api/v1/host/metrics. */
export const HostMetrics = Type.Object({
  ...head,
  series: Type.Object({
    cpu: Series('host CPU busy, in cores (all modes but idle and iowait)'),
    memory: Series('host memory in use, bytes (total minus available)'),
    memoryTotal: Series('host memory, bytes'),
    load1: Series('load average over 1 minute'),
  }),
});
export type HostMetrics = Static<typeof HostMetrics>;
