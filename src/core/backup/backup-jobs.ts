// Backup jobs: a cron schedule (UTC) per instance or for every instance of a project, into one store,
// with an optional retention policy applied to the job's instances after each run. The scheduler
// checks every job twice a minute; a run missed while the daemon was down fires once at the next check.
import { parseCron, nextFire } from '../../lib/cron.js';
import { conflict, notFound } from '../../lib/errors.js';
import { validateName } from '../../lib/validate.js';
import { casUpdate } from '../../store/cas.js';
import { keys } from '../../store/keys.js';
import type { BackupJob, BackupJobSet } from '../../shared/backup-types.js';
import type { BaseDeps } from '../deps.js';
import type { InstanceRepo } from '../instance-repo.js';
import { projectOfRecord } from '../instance-record.js';
import { validatePolicy } from '../../backup/retention.js';
import type { BackupService } from './backup-service.js';
import type { BackupMaintenance } from './backup-maintenance.js';

type JobRecord = Omit<BackupJob, 'nextRun'>;

/** A job with the next time it fires (within a year). */
export function jobView(job: JobRecord, now = new Date()): BackupJob {
  const last = new Date(job.lastRun);
  const from = last > now ? last : now;
  const next = nextFire(parseCron(job.cron), from, new Date(from.getTime() + 367 * 86_400_000));
  return { ...job, ...(next ? { nextRun: next.toISOString() } : {}) };
}

/** Backup jobs and their scheduler. */
export class BackupJobs {
  private timer?: NodeJS.Timeout;
  private running = new Set<string>();
  constructor(private d: BaseDeps, private repo: InstanceRepo, private backups: BackupService, private maintenance: BackupMaintenance) {}

  /** The jobs of a project. */
  async list(project: string): Promise<BackupJob[]> {
    return (await this.d.store.list<JobRecord>(keys.backupJobs(project))).map((kv) => jobView(kv.value)).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** One job. */
  async get(project: string, name: string): Promise<BackupJob> {
    const kv = await this.d.store.get<JobRecord>(keys.backupJob(project, validateName(name, 'backup job name')));
    if (!kv) throw notFound(`backup job ${name}`);
    return jobView(kv.value);
  }

  /** Create or replace a job (checked: cron, store, instance, policy). */
  async set(project: string, name: string, req: BackupJobSet): Promise<BackupJob> {
    validateName(name, 'backup job name');
    parseCron(req.cron);
    await this.backups.stores.get(req.store);
    if (req.instance) await this.repo.record(project, req.instance);
    if (req.keep) validatePolicy(req.keep);
    const job: JobRecord = { name, project, store: req.store, cron: req.cron, ...(req.instance ? { instance: req.instance } : {}), ...(req.keep ? { keep: req.keep } : {}), lastRun: new Date().toISOString() };
    await this.d.store.put(keys.backupJob(project, name), job);
    return jobView(job);
  }

  /** Delete a job (its backups stay). */
  async remove(project: string, name: string): Promise<void> {
    if (!(await this.d.store.delete(keys.backupJob(project, validateName(name, 'backup job name'))))) throw notFound(`backup job ${name}`);
  }

  /** Check jobs every `ms`. */
  start(ms = 30_000): void {
    this.timer = setInterval(() => void this.tick().catch((e: unknown) => this.d.log.warn({ err: String(e) }, 'backup jobs: check failed')), ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One pass: run every due job (each at most once at a time). */
  async tick(now = new Date()): Promise<void> {
    for (const kv of await this.d.store.list<JobRecord>(keys.allBackupJobs)) {
      const job = kv.value;
      const id = `${job.project}/${job.name}`;
      if (this.running.has(id) || !nextFire(parseCron(job.cron), new Date(job.lastRun), now)) continue;
      const claimed = await casUpdate<JobRecord>(this.d.store, kv.key, (cur) => (cur && cur.lastRun === job.lastRun ? { ...cur, lastRun: now.toISOString() } : undefined));
      if (!claimed || claimed.value.lastRun !== now.toISOString()) continue;
      this.running.add(id);
      void this.run(job).finally(() => this.running.delete(id));
    }
  }

  /** Run one job now: a backup of each of its instances, then its retention. */
  async run(job: JobRecord): Promise<string> {
    const recs = job.instance
      ? [await this.repo.record(job.project, job.instance)]
      : (await this.repo.allRecords()).filter((r) => projectOfRecord(r) === job.project && r.state !== 'creating');
    let ok = 0;
    const failed: string[] = [];
    for (const rec of recs) {
      try {
        const op = await this.backups.create(job.project, rec.name, { store: job.store });
        const end = await this.d.ops.wait(op.id, 6 * 3600_000);
        if (end.status !== 'success') throw conflict(end.error?.message ?? `ended ${end.status}`);
        ok++;
      } catch (e) {
        failed.push(`${rec.name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (job.keep) {
      for (const rec of recs) await this.maintenance.prune(job.store, job.keep, { project: job.project, instance: rec.name }).catch((e: unknown) => failed.push(`prune ${rec.name}: ${String(e)}`));
    }
    const result = `${new Date().toISOString()}: ${ok} backed up${failed.length ? `; failed: ${failed.join('; ')}` : ''}`;
    await casUpdate<JobRecord>(this.d.store, keys.backupJob(job.project, job.name), (cur) => (cur ? { ...cur, lastResult: result.slice(0, 2000) } : undefined));
    if (failed.length) this.d.log.warn({ job: job.name, project: job.project, failed }, 'backup job: some backups failed');
    return result;
  }
}
