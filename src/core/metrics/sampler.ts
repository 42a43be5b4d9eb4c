// The metrics sampler: every 10 s, the host (/proc) and every instance (its driver's status with usage:
// /proc, cgroup files and QMP, no spawn; its NICs' sysfs counters). A few instances at a time, each with a
// deadline: one that does not answer in time gets nulls at this sample and is not asked again until its
// last question ended, so a stuck QEMU never stalls the others. The result is the latest snapshot (for
// GET /metrics) and one history point per instance and for the host (rates from counters).
import type { InstanceRecord } from '../instance-record.js';
import { projectOfRecord } from '../instance-record.js';
import type { InstanceStatus } from '../../drivers/compute/instance-driver.js';
import type { NicStats } from '../../host/net-counters.js';
import type { HostCounters } from '../../host/proc-host.js';
import type { Logger } from '../../lib/log.js';
import type { MetricsHistory } from './history.js';
import { ratesBetween, sumOrNull, type CounterSet } from './rates.js';
import type { HostSample, InstanceSample, MetricsSnapshot, PoolSample } from './snapshot.js';

/** Where the sampler reads from (the daemon wires the real ones; unit tests fakes). */
export interface SamplerSources {
  records(): Promise<InstanceRecord[]>;
  status(rec: InstanceRecord): Promise<InstanceStatus>;
  nic(dev: string): Promise<NicStats | undefined>;
  host(): Promise<HostCounters>;
  pools(): Promise<PoolSample[]>;
}

/** Options of MetricsSampler. */
export interface SamplerOptions {
  /** Instances asked at once (default 8). */
  concurrency?: number;
  /** How long one instance may take to answer (default 3 s). */
  timeoutMs?: number;
  now?: () => number;
}

/** The key of the host's history. */
export const HOST_KEY = 'host';
/** The order of an instance's history series (shared/metrics-types.ts InstanceMetrics). */
export const INSTANCE_SERIES = ['cpu', 'memory', 'diskRead', 'diskWrite', 'netRx', 'netTx'] as const;
/** The order of the host's history series (HostMetrics). */
export const HOST_SERIES = ['cpu', 'memory', 'memoryTotal', 'load1'] as const;

const LIVE = new Set(['running', 'paused']);
const TIMED_OUT = Symbol('timed out');

/** Samples the host and every instance; keeps the latest snapshot and feeds the history. */
export class MetricsSampler {
  private snap: MetricsSnapshot = { at: 0, durationSeconds: 0, instances: [], timeouts: 0 };
  private prev = new Map<string, CounterSet>();
  private asking = new Set<string>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly now: () => number;

  constructor(private src: SamplerSources, private history: MetricsHistory, private log: Logger, private opts: SamplerOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  /** The latest complete sample (never waits). */
  latest(): MetricsSnapshot {
    return this.snap;
  }

  /** Sample now, then every `everyMs`. */
  start(everyMs = 10_000): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), everyMs);
    this.timer.unref();
  }

  /** Stop the timer and wait for a sample in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Take one sample (samples never overlap: a tick during one waits for it). */
  tick(): Promise<void> {
    this.running = (this.running ?? Promise.resolve()).then(() => this.sampleAll()).catch((e: unknown) => this.log.warn({ err: String(e) }, 'metrics: a sample failed'));
    return this.running;
  }

  private async sampleAll(): Promise<void> {
    const began = this.now();
    const at = began / 1000;
    const records = await this.src.records();
    const [host, instances] = await Promise.all([this.sampleHost(at), this.sampleInstances(records, at)]);
    this.snap = { at: began, durationSeconds: (this.now() - began) / 1000, ...(host ? { host } : {}), instances: instances.map((i) => i.sample), timeouts: instances.filter((i) => i.timedOut).length };
    const keep = new Set([HOST_KEY, ...records.map((r) => r.uuid)]);
    for (const k of [...this.prev.keys()]) if (!keep.has(k)) this.prev.delete(k);
    this.history.retain(keep);
  }

  private async sampleHost(at: number): Promise<HostSample | undefined> {
    try {
      const [h, pools] = await Promise.all([this.src.host(), this.src.pools().catch(() => [])]);
      const busy = h.cpuSeconds.user + h.cpuSeconds.nice + h.cpuSeconds.system + h.cpuSeconds.irq + h.cpuSeconds.softirq + h.cpuSeconds.steal;
      const cur: CounterSet = { at, values: { busy } };
      const r = ratesBetween(this.prev.get(HOST_KEY), cur);
      this.prev.set(HOST_KEY, cur);
      this.history.put(HOST_KEY, at, [r.busy ?? null, h.memoryTotalBytes - h.memoryAvailableBytes, h.memoryTotalBytes, h.load1]);
      return { ...h, pools };
    } catch (e) {
      this.log.warn({ err: String(e) }, 'metrics: the host could not be sampled');
      return undefined;
    }
  }

  /** Sample every record, `concurrency` at a time, in record order. */
  private async sampleInstances(records: InstanceRecord[], at: number): Promise<{ sample: InstanceSample; timedOut: boolean }[]> {
    const out = new Array<{ sample: InstanceSample; timedOut: boolean }>(records.length);
    let next = 0;
    const worker = async () => {
      while (next < records.length) {
        const i = next++;
        out[i] = await this.sampleOne(records[i]!, at);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency ?? 8, records.length) }, worker));
    return out;
  }

  private async sampleOne(rec: InstanceRecord, at: number): Promise<{ sample: InstanceSample; timedOut: boolean }> {
    const sample: InstanceSample = { uuid: rec.uuid, project: projectOfRecord(rec), name: rec.name, type: rec.type, state: rec.rescue && rec.state === 'running' ? 'rescue' : rec.state, nics: [] };
    if (!LIVE.has(rec.state)) {
      this.prev.delete(rec.uuid);
      this.history.put(rec.uuid, at, [0, 0, 0, 0, 0, 0]);
      return { sample, timedOut: false };
    }
    const got = this.asking.has(rec.uuid) ? TIMED_OUT : await this.ask(rec);
    if (got === TIMED_OUT || got === undefined) {
      this.history.put(rec.uuid, at, [null, null, null, null, null, null]);
      return { sample, timedOut: got === TIMED_OUT };
    }
    const { st, nics } = got;
    const u = st.usage;
    if (st.state === 'stopped' || !u) {
      this.prev.delete(rec.uuid);
      this.history.put(rec.uuid, at, [0, 0, 0, 0, 0, 0]);
      return { sample, timedOut: false };
    }
    sample.cpuSeconds = u.cpuSeconds;
    sample.memoryBytes = u.memoryBytes;
    if (u.guestMemory) Object.assign(sample, { guestMemoryUsedBytes: u.guestMemory.usedBytes, guestMemoryTotalBytes: u.guestMemory.totalBytes });
    if (u.disk) sample.disk = u.disk;
    // The host end's rx is what the guest sent: the samples (and the series) are named from the guest's side.
    sample.nics = nics.map(({ nic, c }) => ({ nic, receiveBytes: c.tx, transmitBytes: c.rx, receivePackets: c.txPackets, transmitPackets: c.rxPackets }));
    const values: Record<string, number> = { cpu: u.cpuSeconds };
    const epochs: Record<string, number> = {};
    if (u.disk) Object.assign(values, { diskRead: u.disk.readBytes, diskWrite: u.disk.writeBytes });
    for (const { tap, c } of nics) {
      values[`rx:${tap}`] = c.tx;
      values[`tx:${tap}`] = c.rx;
      epochs[`rx:${tap}`] = epochs[`tx:${tap}`] = c.ifindex;
    }
    const cur: CounterSet = { at, values, epochs };
    const r = ratesBetween(this.prev.get(rec.uuid), cur);
    this.prev.set(rec.uuid, cur);
    const net = (dir: 'rx' | 'tx') => (nics.length ? sumOrNull(nics.map((n) => r[`${dir}:${n.tap}`])) : 0);
    this.history.put(rec.uuid, at, [r.cpu ?? null, u.memoryBytes, r.diskRead ?? null, r.diskWrite ?? null, net('rx'), net('tx')]);
    return { sample, timedOut: false };
  }

  /** The driver's status and the NIC counters of one instance, or TIMED_OUT after the deadline (the question goes on; `asking` remembers it). */
  private async ask(rec: InstanceRecord): Promise<{ st: InstanceStatus; nics: { nic: string; tap: string; c: NicStats }[] } | typeof TIMED_OUT | undefined> {
    this.asking.add(rec.uuid);
    const q = (async () => {
      const st = await this.src.status(rec);
      const nics = [];
      for (const n of rec.nics) {
        const c = await this.src.nic(n.tap);
        if (c) nics.push({ nic: n.name, tap: n.tap, c });
      }
      return { st, nics };
    })()
      .catch(() => undefined)
      .finally(() => this.asking.delete(rec.uuid));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<typeof TIMED_OUT>((res) => (timer = setTimeout(() => res(TIMED_OUT), this.opts.timeoutMs ?? 3000)));
    try {
      return await Promise.race([q, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}
