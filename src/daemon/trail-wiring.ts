// Composition of the audit log, webhooks and metering (issue 11 items 10-13), kept out of daemon.ts.
import type { DaemonConfig, StatePaths } from '../core/config.js';
import type { Store } from '../store/store.js';
import type { EventBus } from '../core/events.js';
import type { Logger } from '../lib/log.js';
import type { InstanceRepo } from '../core/instance-repo.js';
import type { StorageService } from '../core/storage-service.js';
import { TRAIL_DEFAULTS } from '../core/trail-config.js';
import { AuditLog } from '../core/audit/audit-log.js';
import { WebhookService } from '../core/webhooks/webhook-service.js';
import { Meter } from '../core/metering/meter-service.js';
import { UsageService } from '../core/metering/usage-service.js';
import { cachedSizes, collectSamples } from '../core/metering/meter-samples.js';
import { readNetCounters } from '../host/net-counters.js';
import type { ServerOptions } from '../api/server.js';

/** What startTrail needs from the daemon. */
export interface TrailDeps {
  config: DaemonConfig;
  paths: StatePaths;
  store: Store;
  events: EventBus;
  log: Logger;
  repo: InstanceRepo;
  storage: StorageService;
}

/** Start the audit sweep, webhook deliveries and the meter; returns the API's parts and the stop. */
export async function startTrail(d: TrailDeps) {
  const cfg = { ...TRAIL_DEFAULTS, ...d.config.trail };
  const audit = new AuditLog(d.paths.audit, cfg.auditRetentionDays);
  audit.start();
  const webhooks = new WebhookService(d.store, d.events, d.log.child({ svc: 'webhooks' }), { allowInternalTargets: cfg.webhookAllowInternal });
  await webhooks.start();
  const volumeSize = cachedSizes(async (project, pool, volume) => (await d.storage.volume(project, pool, volume)).size);
  const meter = new Meter(d.store, () => collectSamples({ records: () => d.repo.allRecords(), volumeSize, counters: (dev) => readNetCounters(dev) }), d.log.child({ svc: 'metering' }));
  meter.start(cfg.meterIntervalS * 1000);
  const server: Pick<ServerOptions, 'audit' | 'rateLimits'> = { audit, rateLimits: cfg.rateLimits };
  return {
    services: { audit, webhooks, usage: new UsageService(d.store) },
    server,
    async stop() {
      audit.stop();
      webhooks.stop();
      await meter.stop();
    },
  };
}
