// The Prometheus text exposition format (version 0.0.4) of the latest sample, rendered by a pure function:
// HELP and TYPE lines, label values escaped (backslash, double quote, newline), one family per name.
// https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
import { CPU_MODES } from '../../host/proc-host.js';
import { DURATION_BUCKETS, type OpStatsSnapshot } from './op-stats.js';
import type { InstanceSample, MetricsSnapshot } from './snapshot.js';

/** The content type of the exposition. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Labels = Record<string, string>;
type Kind = 'counter' | 'gauge' | 'histogram';

/** Escape a label value: \ -> \\, " -> \", newline -> \n. Pure. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A sample value as the format writes it (NaN, +Inf, -Inf spelled out). Pure. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

const labelText = (l: Labels): string => {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
};

/** Lines of one metric family, written once each. */
class Writer {
  private out: string[] = [];

  family(name: string, kind: Kind, help: string, samples: readonly [Labels, number][]): void {
    if (!samples.length) return;
    this.out.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${kind}`);
    for (const [l, v] of samples) this.out.push(`${name}${labelText(l)} ${formatValue(v)}`);
  }

  histogram(name: string, help: string, series: readonly { labels: Labels; buckets: readonly number[]; sum: number; count: number }[]): void {
    if (!series.length) return;
    this.out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    for (const s of series) {
      DURATION_BUCKETS.forEach((le, i) => this.out.push(`${name}_bucket${labelText({ ...s.labels, le: String(le) })} ${s.buckets[i]}`));
      this.out.push(`${name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.count}`, `${name}_sum${labelText(s.labels)} ${formatValue(s.sum)}`, `${name}_count${labelText(s.labels)} ${s.count}`);
    }
  }

  text(): string {
    return this.out.join('\n') + '\n';
  }
}

const who = (i: InstanceSample): Labels => ({ project: i.project, name: i.name, type: i.type });

/** Render the latest sample and the operation statistics as the text exposition. Pure. */
export function renderExposition(snap: MetricsSnapshot, ops: OpStatsSnapshot): string {
  const w = new Writer();
  const h = snap.host;
  if (h) {
    w.family('nimbo_host_cpu_seconds_total', 'counter', 'CPU time of the host since boot, all cores, by mode (/proc/stat).', CPU_MODES.map((m) => [{ mode: m }, h.cpuSeconds[m]]));
    w.family('nimbo_host_cpus', 'gauge', 'Logical CPUs of the host.', [[{}, h.cores]]);
    w.family('nimbo_host_memory_total_bytes', 'gauge', 'Memory of the host (MemTotal).', [[{}, h.memoryTotalBytes]]);
    w.family('nimbo_host_memory_available_bytes', 'gauge', 'Memory available for new work (MemAvailable).', [[{}, h.memoryAvailableBytes]]);
    w.family('nimbo_host_load1', 'gauge', 'Load average over 1 minute.', [[{}, h.load1]]);
    w.family('nimbo_host_load5', 'gauge', 'Load average over 5 minutes.', [[{}, h.load5]]);
    w.family('nimbo_host_load15', 'gauge', 'Load average over 15 minutes.', [[{}, h.load15]]);
    w.family('nimbo_pool_capacity_bytes', 'gauge', 'Size of the filesystem of a storage pool.', h.pools.map((p) => [{ pool: p.name }, p.capacityBytes]));
    w.family('nimbo_pool_used_bytes', 'gauge', 'Bytes used on the filesystem of a storage pool.', h.pools.map((p) => [{ pool: p.name }, p.usedBytes]));
  }
  const byState = new Map<string, number>();
  for (const i of snap.instances) byState.set(i.state, (byState.get(i.state) ?? 0) + 1);
  w.family('nimbo_instances', 'gauge', 'Instances by state.', [...byState].sort().map(([state, n]) => [{ state }, n]));
  const inst = snap.instances;
  const each = (f: (i: InstanceSample) => number | undefined): [Labels, number][] =>
    inst.flatMap((i) => {
      const v = f(i);
      return v === undefined ? [] : [[who(i), v] as [Labels, number]];
    });
  w.family('nimbo_instance_state', 'gauge', 'The state of an instance: 1 for its current state.', inst.map((i) => [{ ...who(i), state: i.state }, 1]));
  w.family('nimbo_instance_cpu_seconds_total', 'counter', 'CPU time the instance used since it started (VMs: QEMU process; containers: the cgroup).', each((i) => i.cpuSeconds));
  w.family('nimbo_instance_memory_bytes', 'gauge', 'Memory in use (VMs: QEMU resident set; containers: the cgroup, page cache included).', each((i) => i.memoryBytes));
  w.family('nimbo_instance_guest_memory_used_bytes', 'gauge', 'VMs: memory the guest uses as it sees it (balloon statistics: total - available).', each((i) => i.guestMemoryUsedBytes));
  w.family('nimbo_instance_guest_memory_total_bytes', 'gauge', 'VMs: memory the guest has as it sees it (balloon statistics).', each((i) => i.guestMemoryTotalBytes));
  w.family('nimbo_instance_disk_read_bytes_total', 'counter', 'Bytes the instance read from its disks since it started.', each((i) => i.disk?.readBytes));
  w.family('nimbo_instance_disk_write_bytes_total', 'counter', 'Bytes the instance wrote to its disks since it started.', each((i) => i.disk?.writeBytes));
  w.family('nimbo_instance_disk_reads_total', 'counter', 'Read operations on the disks of the instance since it started.', each((i) => i.disk?.reads));
  w.family('nimbo_instance_disk_writes_total', 'counter', 'Write operations on the disks of the instance since it started.', each((i) => i.disk?.writes));
  const nic = (f: (n: InstanceSample['nics'][number]) => number): [Labels, number][] => inst.flatMap((i) => i.nics.map((n) => [{ ...who(i), nic: n.nic }, f(n)] as [Labels, number]));
  w.family('nimbo_instance_network_receive_bytes_total', 'counter', 'Bytes the instance received on a NIC (the host end transmitted them).', nic((n) => n.receiveBytes));
  w.family('nimbo_instance_network_transmit_bytes_total', 'counter', 'Bytes the instance sent on a NIC (the host end received them).', nic((n) => n.transmitBytes));
  w.family('nimbo_instance_network_receive_packets_total', 'counter', 'Packets the instance received on a NIC.', nic((n) => n.receivePackets));
  w.family('nimbo_instance_network_transmit_packets_total', 'counter', 'Packets the instance sent on a NIC.', nic((n) => n.transmitPackets));
  w.family('nimbo_operations_total', 'counter', 'Operations that ended since the daemon started, by type and status.', ops.counts.map((c) => [{ type: c.type, status: c.status }, c.n]));
  w.histogram('nimbo_operation_duration_seconds', 'Seconds from the creation of an operation to its end (lock waits included), by type.', ops.durations.map((d) => ({ labels: { type: d.type }, buckets: d.buckets, sum: d.sum, count: d.count })));
  if (snap.at) {
    w.family('nimbo_metrics_sample_timestamp_seconds', 'gauge', 'When the sample shown here was taken (unix seconds).', [[{}, snap.at / 1000]]);
    w.family('nimbo_metrics_sample_duration_seconds', 'gauge', 'How long sampling the host and every instance took.', [[{}, snap.durationSeconds]]);
    w.family('nimbo_metrics_sample_timeouts', 'gauge', 'Instances that did not answer in time at the last sample.', [[{}, snap.timeouts]]);
  }
  return w.text();
}
