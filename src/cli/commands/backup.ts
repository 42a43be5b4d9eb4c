/** `nimbo backup ...`: backups of instances into datastores, restores, files, retention, jobs and stores. */
import type { Command } from 'commander';
import type { Backup, BackupJob, BackupJobSet, BackupRestore, PruneResult } from '../../shared/backup-types.js';
import { CliError, EXIT } from '../errors.js';
import { outputOption, renderDetail, renderList, renderTable } from '../output.js';
import { parseName } from '../validate.js';
import { intInRange } from '../validate.js';
import { download } from '../streams.js';
import { attachExamples } from '../examples.js';
import { clientFor, finishOperation, formatOf, out, outResult, withWaitOptions, type WaitOptions } from './common.js';
import { backupColumns, backupFields, humanBytes, policyOf, withKeepOptions } from './backup-views.js';
import { registerBackupStoreCommands } from './backup-store.js';

const enc = encodeURIComponent;
const name = (what: string) => (v: string) => parseName(v, what);
const storeQuery = (o: { store?: string }) => (o.store ? { store: o.store } : undefined);

/** Register `nimbo backup`. */
export function registerBackupCommands(program: Command): void {
  const backup = program.command('backup').description('backups of instances into datastores: deduplicated, compressed, optionally encrypted, incremental');

  withWaitOptions(
    backup.command('create').description('back up an instance (a running VM at one instant; incremental when its last backup in the store is there)').argument('<instance>', 'instance name')
      .requiredOption('--store <store>', 'backup store name', name('store name'))
      .option('--full', 'read everything, even when an incremental is possible'),
  ).action(async (instance: string, o: WaitOptions & { store: string; full?: boolean }, cmd: Command) => {
    const client = clientFor(cmd);
    const op = await client.operation('POST', `/instances/${enc(instance)}/backups`, { body: { store: o.store, ...(o.full ? { full: true } : {}) } });
    await finishOperation(op, client, o, (f) => {
      const b = f.result as Backup | undefined;
      return b ? `Backed up ${instance}: ${b.id} (${b.mode}, ${b.consistency}; read ${humanBytes(b.stats.bytesRead)}, new ${humanBytes(b.stats.bytesNew)})` : undefined;
    });
  });

  backup.command('list').alias('ls').description("the project's backups, newest first")
    .option('--store <store>', 'only this store', name('store name'))
    .option('--instance <name>', 'only this instance', name('instance name'))
    .addOption(outputOption())
    .action(async (o: { store?: string; instance?: string }, cmd: Command) => {
      const q: Record<string, string> = {};
      if (o.store) q.store = o.store;
      if (o.instance) q.instance = o.instance;
      out(renderList(await clientFor(cmd).listAll<Backup>('/backups', 'backups', undefined, q), backupColumns, formatOf(cmd)));
    });

  backup.command('info').alias('show').description('one backup').argument('<id>', 'backup id').option('--store <store>', 'the store holding it', name('store name')).addOption(outputOption())
    .action(async (id: string, o: { store?: string }, cmd: Command) => {
      const b = await clientFor(cmd).json<Backup>('GET', `/backups/${enc(id)}`, { query: storeQuery(o) });
      out(renderDetail(b, backupFields(b), formatOf(cmd)));
    });

  backup.command('delete').alias('rm').description('delete a backup (its chunks go at the next gc)').argument('<id>', 'backup id').option('--store <store>', 'the store holding it', name('store name'))
    .action(async (id: string, o: { store?: string }, cmd: Command) => {
      await clientFor(cmd).json('DELETE', `/backups/${enc(id)}`, { query: storeQuery(o) });
      out(`Deleted backup ${id}`);
    });

  withWaitOptions(
    backup.command('restore').description('restore a backup over its instance (--force when it exists) or as a new instance (--as NAME)').argument('<id>', 'backup id')
      .option('--as <name>', 'restore as a new instance of this name', name('instance name'))
      .option('--pool <pool>', 'pool of the new instance', name('pool name'))
      .option('--target-project <project>', 'make the new instance in this project', name('project name'))
      .option('--force', 'overwrite the existing instance (it is stopped and its root replaced)')
      .option('--start', 'start it once restored')
      .option('--store <store>', 'the store holding it', name('store name')),
  ).action(async (id: string, o: WaitOptions & { as?: string; pool?: string; targetProject?: string; force?: boolean; start?: boolean; store?: string }, cmd: Command) => {
    const client = clientFor(cmd);
    const body: BackupRestore = { ...(o.as ? { name: o.as } : {}), ...(o.pool ? { pool: o.pool } : {}), ...(o.targetProject ? { targetProject: o.targetProject } : {}), ...(o.force ? { force: true } : {}), ...(o.start ? { start: true } : {}) };
    const op = await client.operation('POST', `/backups/${enc(id)}/restore`, { body, query: storeQuery(o) });
    await finishOperation(op, client, o, () => `Restored backup ${id}${o.as ? ` as ${o.as}` : ''}`);
  });

  backup.command('export').description('download a backup: a VM disk as raw or qcow2, a container tree as tar').argument('<id>', 'backup id').argument('<file>', 'local file, or - for stdout')
    .requiredOption('--format <format>', 'raw, qcow2 (VM disks) or tar (containers)', (v: string) => {
      if (!['raw', 'qcow2', 'tar'].includes(v)) throw new CliError('--format is raw, qcow2 or tar', { exitCode: EXIT.usage });
      return v;
    })
    .option('--disk <disk>', 'VM disks: root (default) or POOL/VOLUME')
    .option('--store <store>', 'the store holding it', name('store name'))
    .action(async (id: string, file: string, o: { format: string; disk?: string; store?: string }, cmd: Command) => {
      const n = await download(clientFor(cmd), `/backups/${enc(id)}/export`, { format: o.format, ...(o.disk ? { disk: o.disk } : {}), ...(o.store ? { store: o.store } : {}) }, file);
      if (file !== '-') out(`Wrote ${humanBytes(n)} to ${file}`);
    });

  const part = (cmdr: Command) => cmdr.option('--part <n>', 'VM disks: the partition (default: the first with ext4 or XFS)', intInRange('--part', 0, 128)).option('--store <store>', 'the store holding it', name('store name'));
  part(backup.command('files').description('list a directory inside a backup (container tree, or a VM disk with ext4/XFS)').argument('<id>', 'backup id').argument('[path]', 'directory', '/')).addOption(outputOption())
    .action(async (id: string, path: string, o: { part?: number; store?: string }, cmd: Command) => {
      const entries = await clientFor(cmd).listAll<{ name: string; type: string; size: number; mtime?: string }>(`/backups/${enc(id)}/tree`, 'entries', undefined, { path, ...(o.part !== undefined ? { part: String(o.part) } : {}), ...(o.store ? { store: o.store } : {}) });
      out(renderList(entries, [
        { header: 'NAME', value: (e) => e.name }, { header: 'TYPE', value: (e) => e.type }, { header: 'SIZE', value: (e) => String(e.size) }, { header: 'MODIFIED', value: (e) => e.mtime ?? '' },
      ], formatOf(cmd)));
    });
  part(backup.command('file').description('copy one file out of a backup').argument('<id>', 'backup id').argument('<path>', 'file inside the backup').argument('<local>', 'local file, or - for stdout'))
    .action(async (id: string, path: string, local: string, o: { part?: number; store?: string }, cmd: Command) => {
      const n = await download(clientFor(cmd), `/backups/${enc(id)}/file`, { path, ...(o.part !== undefined ? { part: String(o.part) } : {}), ...(o.store ? { store: o.store } : {}) }, local);
      if (local !== '-') out(`Wrote ${n} bytes to ${local}`);
    });

  withWaitOptions(
    backup.command('verify').description("re-read the chunks of backups and check their digests (the project's; --all: the whole store, admins)")
      .requiredOption('--store <store>', 'backup store', name('store name')).option('--all', 'every backup of the store'),
  ).action(async (o: WaitOptions & { store: string; all?: boolean }, cmd: Command) => {
    const client = clientFor(cmd);
    const op = o.all ? await client.operation('POST', `/backup-stores/${enc(o.store)}/verify`) : await client.operation('POST', '/backups/verify', { body: { store: o.store } });
    const final = await finishOperation(op, client, o, (f) => {
      const r = f.result as { ok: boolean; chunksChecked: number; corrupt: string[]; missing: string[]; broken: { id: string; instance: string }[] } | undefined;
      if (!r) return undefined;
      if (r.ok) return `Verified ${r.chunksChecked} chunks: all good`;
      return `${r.corrupt.length} corrupt and ${r.missing.length} missing chunks; broken backups: ${r.broken.map((b) => `${b.id} (${b.instance})`).join(', ')}`;
    });
    if ((final.result as { ok?: boolean } | undefined)?.ok === false) process.exitCode = 1;
  });

  withKeepOptions(
    backup.command('prune').description('apply retention to backups, per instance, as restic and Proxmox do (--dry-run: only show)')
      .requiredOption('--store <store>', 'backup store', name('store name'))
      .option('--instance <name>', 'only this instance', name('instance name'))
      .option('--all', "every project's backups (admins and operators)")
      .option('--dry-run', 'show what would be kept and removed; remove nothing'),
  ).addOption(outputOption())
    .action(async (o: { store: string; instance?: string; all?: boolean; dryRun?: boolean } & Record<string, unknown>, cmd: Command) => {
      const policy = policyOf(o);
      if (!policy) throw new CliError('give at least one --keep-* option', { exitCode: EXIT.usage });
      const body = { policy, ...(o.instance ? { instance: o.instance } : {}), ...(o.dryRun ? { dryRun: true } : {}) };
      const client = clientFor(cmd);
      const r = o.all ? await client.json<PruneResult>('POST', `/backup-stores/${enc(o.store)}/prune`, { body }) : await client.json<PruneResult>('POST', '/backups/prune', { body: { ...body, store: o.store } });
      const format = formatOf(cmd);
      if (format !== 'table') return outResult(format, r, '');
      const rows = [...r.keep.map((k) => [k.id, k.instance, 'keep', k.reasons.join(', ')]), ...r.remove.map((x) => [x.id, x.instance, r.dryRun ? 'would remove' : 'removed', ''])];
      out(renderTable(['ID', 'INSTANCE', 'ACTION', 'WHY'], rows));
    });

  withWaitOptions(backup.command('gc').description('garbage collection: remove chunks no backup uses (admins and operators)').requiredOption('--store <store>', 'backup store', name('store name'))
    .option('--grace <seconds>', 'keep chunks written or reused in the last N seconds (default 60)', intInRange('--grace', 0, 86_400)))
    .action(async (o: WaitOptions & { store: string; grace?: number }, cmd: Command) => {
      const client = clientFor(cmd);
      const op = await client.operation('POST', `/backup-stores/${enc(o.store)}/gc`, { ...(o.grace !== undefined ? { query: { graceSeconds: String(o.grace) } } : {}) });
      await finishOperation(op, client, o, (f) => {
        const r = f.result as { removed: number; removedBytes: number } | undefined;
        return r ? `Removed ${r.removed} chunks (${humanBytes(r.removedBytes)})` : undefined;
      });
    });

  const job = backup.command('job').description('scheduled backups with retention');
  withKeepOptions(
    job.command('set').description('create or replace a job: cron (UTC) for one instance or every instance of the project').argument('<name>', 'job name', name('job name'))
      .requiredOption('--store <store>', 'backup store', name('store name'))
      .requiredOption('--cron <cron>', '5-field cron (UTC) or @hourly, @daily, @weekly, @monthly')
      .option('--instance <name>', 'only this instance (default: all of the project)', name('instance name')),
  ).addOption(outputOption())
    .action(async (n: string, o: { store: string; cron: string; instance?: string } & Record<string, unknown>, cmd: Command) => {
      const keep = policyOf(o);
      const body: BackupJobSet = { store: o.store, cron: o.cron, ...(o.instance ? { instance: o.instance } : {}), ...(keep ? { keep } : {}) };
      const j = await clientFor(cmd).json<BackupJob>('PUT', `/backup-jobs/${enc(n)}`, { body });
      out(renderDetail(j, jobFields(j), formatOf(cmd)));
    });
  job.command('list').alias('ls').description('backup jobs of the project').addOption(outputOption())
    .action(async (_o: unknown, cmd: Command) => {
      const jobs = await clientFor(cmd).listAll<BackupJob>('/backup-jobs', 'jobs');
      out(renderList(jobs, [
        { header: 'NAME', value: (j) => j.name }, { header: 'STORE', value: (j) => j.store }, { header: 'CRON', value: (j) => j.cron },
        { header: 'INSTANCE', value: (j) => j.instance ?? '(all)' }, { header: 'NEXT RUN', value: (j) => j.nextRun ?? '' },
      ], formatOf(cmd)));
    });
  job.command('show').description('one backup job').argument('<name>', 'job name').addOption(outputOption())
    .action(async (n: string, _o: unknown, cmd: Command) => {
      const j = await clientFor(cmd).json<BackupJob>('GET', `/backup-jobs/${enc(n)}`);
      out(renderDetail(j, jobFields(j), formatOf(cmd)));
    });
  job.command('run').description('run a job now and wait for it').argument('<name>', 'job name')
    .action(async (n: string, _o: unknown, cmd: Command) => {
      out((await clientFor(cmd).json<{ result: string }>('POST', `/backup-jobs/${enc(n)}/run`, { timeoutMs: 6 * 3600_000 })).result);
    });
  job.command('delete').alias('rm').description('delete a job (its backups stay)').argument('<name>', 'job name')
    .action(async (n: string, _o: unknown, cmd: Command) => {
      await clientFor(cmd).json('DELETE', `/backup-jobs/${enc(n)}`);
      out(`Deleted backup job ${n}`);
    });

  registerBackupStoreCommands(backup);
  attachExamples(backup);
}

function jobFields(j: BackupJob): [string, string][] {
  const keep = j.keep ? Object.entries(j.keep).map(([k, v]) => `${k.replace(/^keep/, '').toLowerCase()} ${v}`).join(', ') : 'everything';
  return [['name', j.name], ['store', j.store], ['cron', `${j.cron} (UTC)`], ['instance', j.instance ?? '(all of the project)'], ['keep', keep], ['next run', j.nextRun ?? 'none within a year'], ['last result', j.lastResult ?? '']];
}
