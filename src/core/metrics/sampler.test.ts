import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsHistory } from './history.js';
import { MetricsSampler, type SamplerSources } from './sampler.js';
import { MetricsService } from './metrics-service.js';
import { OperationStats } from './op-stats.js';
import type { InstanceRecord } from '../instance-record.js';
import type { InstanceStatus } from '../../drivers/compute/instance-driver.js';
import type { NicStats } from '../../host/net-counters.js';
import { silentLogger } from '../../lib/log.js';

const rec = (name: string, state: InstanceRecord['state'] = 'running'): InstanceRecord =>
  ({ name, uuid: `uuid-${name}`, project: 'p', type: 'vm', state, nics: [{ name: 'eth0', tap: `tap-${name}` }] }) as unknown as InstanceRecord;
const cpu = { user: 0, nice: 0, system: 0, idle: 0, iowait: 0, irq: 0, softirq: 0, steal: 0 };

function fixture() {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-msamp-'));
  let now = 1_700_000_000_000;
  const usage = new Map<string, number>();
  const nic = new Map<string, NicStats>();
  let busy = 0;
  const src: SamplerSources & { stuck: Set<string>; inFlight: number; maxInFlight: number; records_: InstanceRecord[] } = {
    stuck: new Set(),
    inFlight: 0,
    maxInFlight: 0,
    records_: [],
    records: async () => src.records_,
    status: async (r) => {
      src.inFlight++;
      src.maxInFlight = Math.max(src.maxInFlight, src.inFlight);
      try {
        if (src.stuck.has(r.name)) await new Promise(() => {}); // never answers
        await new Promise((res) => setTimeout(res, 5));
        const c = usage.get(r.name) ?? 0;
        return { state: 'running', pid: 1, usage: { cpuSeconds: c, memoryBytes: 1000, pids: 1, disk: { readBytes: c * 100, writeBytes: 0, reads: 0, writes: 0 } } } satisfies InstanceStatus;
      } finally {
        src.inFlight--;
      }
    },
    nic: async (dev) => nic.get(dev),
    host: async () => ({ cpuSeconds: { ...cpu, user: busy, idle: 1000 }, cores: 2, memoryTotalBytes: 100, memoryAvailableBytes: 40, load1: 1, load5: 1, load15: 1 }),
    pools: async () => [],
  };
  const history = new MetricsHistory(join(dir, 'metrics'));
  const sampler = new MetricsSampler(src, history, silentLogger(), { concurrency: 3, timeoutMs: 200, now: () => now });
  const service = new MetricsService(sampler, history, new OperationStats(), () => now);
  return {
    src, sampler, service, usage, nic,
    setBusy: (b: number) => (busy = b),
    advance: (s: number) => (now += s * 1000),
    done: () => rmSync(dir, { recursive: true, force: true }),
  };
}

test('rates from counters: CPU in cores, disk and guest-side network bytes/s, a counter reset is not negative', async () => {
  const f = fixture();
  try {
    f.src.records_ = [rec('a')];
    f.usage.set('a', 100);
    f.nic.set('tap-a', { ifindex: 5, rx: 1000, tx: 50_000, rxPackets: 1, txPackets: 2 });
    await f.sampler.tick();
    const snap = f.sampler.latest();
    assert.deepEqual(snap.instances[0]!.nics, [{ nic: 'eth0', receiveBytes: 50_000, transmitBytes: 1000, receivePackets: 2, transmitPackets: 1 }], 'named from the guest side');
    f.advance(10);
    f.usage.set('a', 105); // 0.5 cores
    f.nic.set('tap-a', { ifindex: 5, rx: 2000, tx: 60_000, rxPackets: 2, txPackets: 3 });
    f.setBusy(20); // 2 busy cores on the host
    await f.sampler.tick();
    f.advance(10);
    f.usage.set('a', 3); // it restarted: 3 s since
    f.nic.set('tap-a', { ifindex: 9, rx: 500, tx: 100, rxPackets: 1, txPackets: 1 }); // tap recreated
    await f.sampler.tick();
    const h = f.service.instance('uuid-a', '1h');
    assert.equal(h.step, 10);
    assert.equal(h.t.length, 360);
    assert.deepEqual(h.series.cpu.slice(-3), [null, 0.5, 0.3]);
    assert.deepEqual(h.series.diskRead.slice(-3), [null, 50, 30]);
    assert.deepEqual(h.series.netRx.slice(-3), [null, 1000, 10]);
    assert.deepEqual(h.series.netTx.slice(-3), [null, 100, 50]);
    assert.deepEqual(h.series.memory.slice(-3), [1000, 1000, 1000]);
    const host = f.service.host('1h');
    assert.deepEqual(host.series.cpu.slice(-2), [2, 0]);
    assert.deepEqual(host.series.memory.at(-1), 60);
    assert.deepEqual(host.series.memoryTotal.at(-1), 100);
  } finally {
    f.done();
  }
});

test('a stuck instance gets nulls and is not asked again while stuck; the others are sampled; at most `concurrency` at once', async () => {
  const f = fixture();
  try {
    f.src.records_ = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((n) => rec(n)).concat([rec('off', 'stopped')]);
    f.src.stuck.add('b');
    const began = Date.now();
    await f.sampler.tick();
    assert.ok(Date.now() - began < 2000, 'the stuck one cost one timeout, not a stall');
    let snap = f.sampler.latest();
    assert.equal(snap.timeouts, 1);
    assert.ok(f.src.maxInFlight <= 3, `${f.src.maxInFlight} at once`);
    assert.equal(snap.instances.find((i) => i.name === 'b')!.cpuSeconds, undefined);
    assert.equal(snap.instances.find((i) => i.name === 'a')!.memoryBytes, 1000);
    assert.equal(snap.instances.find((i) => i.name === 'off')!.state, 'stopped');
    f.advance(10);
    const calls = f.src.inFlight;
    await f.sampler.tick();
    snap = f.sampler.latest();
    assert.equal(snap.timeouts, 1);
    assert.equal(f.src.inFlight, calls, 'the stuck one was not asked a second time');
    assert.deepEqual(f.service.instance('uuid-off', '1h').series.cpu.slice(-1), [0], 'a stopped instance uses nothing');
    assert.deepEqual(f.service.instance('uuid-b', '1h').series.memory.slice(-2), [null, null]);
    // A deleted instance loses its history.
    f.src.records_ = [rec('a')];
    await f.sampler.tick();
    assert.ok(f.service.instance('uuid-c', '1h').series.memory.every((v) => v === null));
    assert.ok(f.service.exposition().includes('nimbo_instance_memory_bytes{project="p",instance="a",type="vm"} 1000\n'));
  } finally {
    f.done();
  }
});
