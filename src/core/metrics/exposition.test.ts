import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeLabel, formatValue, renderExposition } from './exposition.js';
import { OperationStats } from './op-stats.js';
import type { MetricsSnapshot } from './snapshot.js';

const cpu = { user: 10, nice: 0, system: 5, idle: 100, iowait: 1, irq: 0, softirq: 0.5, steal: 0 };
const SNAP: MetricsSnapshot = {
  at: 1_700_000_000_000,
  durationSeconds: 0.012,
  timeouts: 0,
  host: { cpuSeconds: cpu, cores: 2, memoryTotalBytes: 2048, memoryAvailableBytes: 1024, load1: 0.5, load5: 0.25, load15: 0.125, pools: [{ name: 'default', capacityBytes: 1000, usedBytes: 400 }] },
  instances: [
    { uuid: 'u1', project: 'default', name: 'web "1"\\x\nz', type: 'vm', state: 'running', cpuSeconds: 12.5, memoryBytes: 4096, guestMemoryUsedBytes: 1000, guestMemoryTotalBytes: 3000, disk: { readBytes: 1, writeBytes: 2, reads: 3, writes: 4 }, nics: [{ nic: 'eth0', receiveBytes: 100, transmitBytes: 200, receivePackets: 5, transmitPackets: 6 }] },
    { uuid: 'u2', project: 'p2', name: 'db', type: 'container', state: 'stopped', nics: [] },
  ],
};

/** Parse the exposition into { name{labels}: value } and the TYPE of each family; throws on a malformed line. */
function parse(text: string): { values: Map<string, string>; types: Map<string, string>; helps: Set<string> } {
  const values = new Map<string, string>();
  const types = new Map<string, string>();
  const helps = new Set<string>();
  assert.ok(text.endsWith('\n'));
  for (const line of text.slice(0, -1).split('\n')) {
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      if (m[1] === 'TYPE') {
        assert.ok(!types.has(m[2]!), `TYPE of ${m[2]} twice`);
        types.set(m[2]!, m[3]!);
      } else helps.add(m[2]!);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (\S+)$/.exec(line);
    assert.ok(m, `malformed line: ${line}`);
    values.set(m[1]! + (m[2] ?? ''), m[3]!);
  }
  return { values, types, helps };
}

test('label values are escaped; special values are spelled out', () => {
  assert.equal(escapeLabel('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  assert.deepEqual([NaN, Infinity, -Infinity, 1.5, 0].map(formatValue), ['NaN', '+Inf', '-Inf', '1.5', '0']);
});

test('the exposition: every family typed and described once, instance series with escaped labels, guest-side NIC names', () => {
  const ops = new OperationStats();
  ops.record('instance.start', 'success', 0.3);
  ops.record('instance.start', 'success', 7);
  ops.record('instance.start', 'failure', 700);
  const { values, types, helps } = parse(renderExposition(SNAP, ops.snapshot()));
  for (const name of types.keys()) assert.ok(helps.has(name), `HELP of ${name}`);
  const who = 'project="default",name="web \\"1\\"\\\\x\\nz",type="vm"';
  assert.equal(values.get(`nimbo_instance_cpu_seconds_total{${who}}`), '12.5');
  assert.equal(values.get(`nimbo_instance_memory_bytes{${who}}`), '4096');
  assert.equal(values.get(`nimbo_instance_guest_memory_used_bytes{${who}}`), '1000', 'the guest view (balloon) next to the host RSS');
  assert.equal(values.get(`nimbo_instance_guest_memory_total_bytes{${who}}`), '3000');
  assert.equal(values.get(`nimbo_instance_disk_write_bytes_total{${who}}`), '2');
  assert.equal(values.get(`nimbo_instance_disk_reads_total{${who}}`), '3');
  assert.equal(values.get(`nimbo_instance_network_receive_bytes_total{${who},nic="eth0"}`), '100');
  assert.equal(values.get(`nimbo_instance_network_transmit_packets_total{${who},nic="eth0"}`), '6');
  assert.equal(values.get(`nimbo_instance_state{${who},state="running"}`), '1');
  assert.equal(values.get('nimbo_instance_state{project="p2",name="db",type="container",state="stopped"}'), '1');
  // A stopped instance has no counters.
  assert.equal([...values.keys()].filter((k) => k.includes('name="db"')).length, 1);
  assert.equal(values.get('nimbo_instances{state="running"}'), '1');
  assert.equal(values.get('nimbo_host_cpu_seconds_total{mode="idle"}'), '100');
  assert.equal(values.get('nimbo_host_memory_available_bytes'), '1024');
  assert.equal(values.get('nimbo_pool_used_bytes{pool="default"}'), '400');
  assert.equal(types.get('nimbo_instance_cpu_seconds_total'), 'counter');
  assert.equal(types.get('nimbo_instance_memory_bytes'), 'gauge');
  assert.equal(values.get('nimbo_operations_total{type="instance.start",status="success"}'), '2');
  assert.equal(values.get('nimbo_operations_total{type="instance.start",status="failure"}'), '1');
});

test('the duration histogram: cumulative buckets, +Inf equals the count, sum of seconds', () => {
  const ops = new OperationStats();
  for (const s of [0.05, 0.3, 7, 700]) ops.record('x', 'success', s);
  const { values, types } = parse(renderExposition({ at: 0, durationSeconds: 0, instances: [], timeouts: 0 }, ops.snapshot()));
  assert.equal(types.get('nimbo_operation_duration_seconds'), 'histogram');
  const b = (le: string) => values.get(`nimbo_operation_duration_seconds_bucket{type="x",le="${le}"}`);
  assert.deepEqual(['0.1', '0.5', '5', '10', '600', '+Inf'].map(b), ['1', '2', '2', '3', '3', '4']);
  assert.equal(values.get('nimbo_operation_duration_seconds_count{type="x"}'), '4');
  assert.equal(Number(values.get('nimbo_operation_duration_seconds_sum{type="x"}')), 707.35);
  // Nothing sampled yet: no host families, no sample timestamp.
  assert.equal(types.has('nimbo_host_cpus'), false);
  assert.equal(types.has('nimbo_metrics_sample_timestamp_seconds'), false);
});
