import type { FastifyReply } from 'fastify';
import type { Operation, HostInfo } from '../shared/api-types.js';
import type { BaseDeps } from '../core/deps.js';
import type { ImageService } from '../core/image-service.js';
import type { InstanceService } from '../core/instance-service.js';
import type { InstanceActions } from '../core/instance-actions.js';
import type { NetworkService } from '../core/network-service.js';
import type { FirewallService } from '../core/firewall-service.js';
import type { ForwardService } from '../core/forward-service.js';
import type { InstanceNics } from '../core/instance-nics.js';
import type { StorageService } from '../core/storage-service.js';
import type { InstanceVolumes } from '../core/instance-volumes.js';
import type { InstanceMedia } from '../core/instance-media.js';
import type { InstanceSnapshots } from '../core/instance-snapshots.js';
import type { InstanceCopier } from '../core/instance-copy.js';
import type { InstanceExec } from '../core/instance-exec.js';
import type { PlanService } from '../core/plans/plan-service.js';
import type { QuotaService } from '../core/quota/quota-service.js';
import type { VpsActions } from '../core/vps-actions.js';
import type { InstanceUpdate } from '../core/instance-update.js';
import type { PrivateImages } from '../core/private-images.js';
import type { LoginThrottle } from './rate-limit-login.js';
import type { AuditLog } from '../core/audit/audit-log.js';
import type { WebhookService } from '../core/webhooks/webhook-service.js';
import type { UsageService } from '../core/metering/usage-service.js';
import type { MetricsService } from '../core/metrics/metrics-service.js';
import type { BackupStores } from '../core/backup/backup-stores.js';
import type { BackupService } from '../core/backup/backup-service.js';
import type { BackupRestorer } from '../core/backup/backup-restore.js';
import type { BackupFiles } from '../core/backup/backup-files.js';
import type { BackupMaintenance } from '../core/backup/backup-maintenance.js';
import type { BackupJobs } from '../core/backup/backup-jobs.js';
import type { BackupSyncer } from '../core/backup/backup-sync.js';
import type { UrlImports } from '../core/image-url-import.js';
import type { ImageServer } from '../core/image-server.js';
import type { ImageRemotes } from '../core/image-remotes.js';
import type { RemoteImageCache } from '../core/image-remote-cache.js';

/** The backup services the routes call. */
export interface BackupApi {
  stores: BackupStores;
  service: BackupService;
  restorer: BackupRestorer;
  files: BackupFiles;
  maintenance: BackupMaintenance;
  jobs: BackupJobs;
  syncer: BackupSyncer;
}

/** The services the API routes call. */
export interface ApiContext extends BaseDeps {
  images: ImageService;
  instances: InstanceService;
  actions: InstanceActions;
  network: NetworkService;
  firewall: FirewallService;
  forwards: ForwardService;
  instanceNics: InstanceNics;
  copier: InstanceCopier;
  instanceExec: InstanceExec;
  storage: StorageService;
  instanceVolumes: InstanceVolumes;
  /** The CD-ROM drive of VMs launched with --iso (insert/eject). */
  media: InstanceMedia;
  snapshots: InstanceSnapshots;
  plans: PlanService;
  quotas: QuotaService;
  /** PATCH /instances/{name} (the daemon's, with quotas); absent: the route makes one from the other members. */
  instanceUpdate?: InstanceUpdate;
  /** Projects' private images (made from their VMs). */
  privateImages: PrivateImages;
  /** POST /instances/{name}/actions (VPS actions). */
  vpsActions: VpsActions;
  hostInfo(): Promise<HostInfo>;
  /** The brake on password guessing (api/rate-limit-login.ts); absent: the login routes make their own. */
  loginThrottle?: LoginThrottle;
  audit: AuditLog;
  webhooks: WebhookService;
  usage: UsageService;
  backups: BackupApi;
  /** GET /metrics and the history routes (core/metrics). */
  metrics: MetricsService;
  /** POST /images/import-url. */
  urlImports: UrlImports;
  /** GET /image-server/... (what other daemons fetch). */
  imageServer: ImageServer;
  /** /image-remotes (where this daemon fetches REMOTE:IMAGE from). */
  imageRemotes: ImageRemotes;
  /** The local cache of remote images. */
  remoteImages: RemoteImageCache;
}

/** Answer 202 Accepted with the operation and its Location. */
export function accepted(reply: FastifyReply, op: Operation) {
  return reply.code(202).header('Location', `/api/v1/operations/${op.id}`).send({ operation: op });
}
