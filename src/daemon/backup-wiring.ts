// The backup services, built in one place for the composition root: datastores, backups, restores,
// files and exports, verify/prune/GC, jobs (their scheduler starts here) and sync.
import { join } from 'node:path';
import type { BaseDeps } from '../core/deps.js';
import type { InstanceRepo } from '../core/instance-repo.js';
import type { InstanceRuntime } from '../core/instance-runtime.js';
import type { InstanceProvisioner } from '../core/instance-provision.js';
import type { InstanceViews } from '../core/instance-view.js';
import type { NicsPort } from '../core/instance-ports.js';
import type { VpsActionDeps } from '../core/vps-action-deps.js';
import { VpsRootSwap } from '../core/vps-root-swap.js';
import { BackupStores } from '../core/backup/backup-stores.js';
import { BackupService } from '../core/backup/backup-service.js';
import { BackupRestorer } from '../core/backup/backup-restore.js';
import { BackupFiles } from '../core/backup/backup-files.js';
import { BackupMaintenance } from '../core/backup/backup-maintenance.js';
import { BackupJobs } from '../core/backup/backup-jobs.js';
import { BackupSyncer } from '../core/backup/backup-sync.js';
import type { BackupApi } from '../api/context.js';

/** What the backup services are made from. */
export interface BackupWiringDeps {
  base: BaseDeps;
  runtime: InstanceRuntime;
  repo: InstanceRepo;
  provisioner: InstanceProvisioner;
  views: InstanceViews;
  nics: NicsPort;
  actions: VpsActionDeps['actions'];
}

/** Build the backup services; start() runs the jobs' scheduler, stop() ends it and unmounts backup disks. */
export function makeBackups(d: BackupWiringDeps): { api: BackupApi; start(): void; stop(): Promise<void> } {
  const scratch = join(d.base.config.stateDir, 'cache', 'backup');
  const stores = new BackupStores(d.base, d.base.config.stateDir);
  const service = new BackupService(d.base, d.runtime, d.repo, stores);
  const rootSwap = new VpsRootSwap({ runtime: d.runtime, repo: d.repo, views: d.views, provisioner: d.provisioner, actions: d.actions });
  const restorer = new BackupRestorer({ runtime: d.runtime, repo: d.repo, provisioner: d.provisioner, views: d.views, nics: d.nics, rootSwap, backups: service, scratch });
  const files = new BackupFiles(d.base, service, scratch);
  const maintenance = new BackupMaintenance(d.base, stores);
  const jobs = new BackupJobs(d.base, d.repo, service, maintenance);
  const syncer = new BackupSyncer(d.base, stores);
  return {
    api: { stores, service, restorer, files, maintenance, jobs, syncer },
    start: () => jobs.start(),
    async stop() {
      jobs.stop();
      await files.close();
    },
  };
}
