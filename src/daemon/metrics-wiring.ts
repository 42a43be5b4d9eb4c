// Composition of metrics (issue 13 item 4), kept out of daemon.ts: the sampler (every 10 s), the history
// files under STATE/metrics (flushed every 5 minutes and at shutdown) and the operation statistics.
import { join } from 'node:path';
import type { InstanceRepo } from '../core/instance-repo.js';
import type { InstanceRuntime } from '../core/instance-runtime.js';
import type { StorageService } from '../core/storage-service.js';
import type { OperationManager } from '../core/operations.js';
import type { Logger } from '../lib/log.js';
import { MetricsHistory } from '../core/metrics/history.js';
import { OperationStats } from '../core/metrics/op-stats.js';
import { MetricsSampler, type SamplerOptions } from '../core/metrics/sampler.js';
import { MetricsService } from '../core/metrics/metrics-service.js';
import { readNicStats } from '../host/net-counters.js';
import { readHostCounters } from '../host/proc-host.js';
import { fsSpace } from '../drivers/storage/fs-util.js';

/** What the metrics need from the daemon. */
export interface MetricsDeps {
  stateDir: string;
  repo: Pick<InstanceRepo, 'allRecords'>;
  runtime: Pick<InstanceRuntime, 'status'>;
  storage: Pick<StorageService, 'pools'>;
  ops: Pick<OperationManager, 'onEnded'>;
  log: Logger;
}

/** Timing of the metrics (tests shorten them). */
export interface MetricsTiming extends SamplerOptions {
  sampleMs?: number;
  flushMs?: number;
}

/** Build the metrics; start() begins sampling and flushing, stop() ends both and writes the history. */
export function makeMetrics(d: MetricsDeps, timing: MetricsTiming = {}) {
  const log = d.log.child({ svc: 'metrics' });
  const history = new MetricsHistory(join(d.stateDir, 'metrics'));
  const opStats = new OperationStats();
  d.ops.onEnded((op, seconds) => opStats.record(op.kind, op.status, seconds));
  const sampler = new MetricsSampler(
    {
      records: () => d.repo.allRecords(),
      status: (rec) => d.runtime.status(rec, { usage: true }),
      nic: (dev) => readNicStats(dev),
      host: () => readHostCounters(),
      // Pools are filesystems (dir, btrfs): statfs of their path, no spawn.
      pools: async () => Promise.all((await d.storage.pools()).map(async (p) => fsSpace(p.path).then((s) => ({ name: p.name, capacityBytes: s.sizeBytes, usedBytes: s.usedBytes })))),
    },
    history,
    log,
    timing,
  );
  let flusher: NodeJS.Timeout | undefined;
  const flush = () => history.flush().catch((e: unknown) => log.warn({ err: String(e) }, 'metrics: writing the history failed'));
  return {
    service: new MetricsService(sampler, history, opStats),
    sampler,
    history,
    start() {
      sampler.start(timing.sampleMs ?? 10_000);
      flusher = setInterval(() => void flush(), timing.flushMs ?? 5 * 60_000);
      flusher.unref();
    },
    async stop() {
      clearInterval(flusher);
      await sampler.stop();
      await flush();
    },
  };
}
