import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ErrorBody, Name, Operation } from '../shared/api-types.js';
import { Backup, BackupCreate, BackupId, BackupJob, BackupJobSet, BackupPrune, BackupRestore, PruneResult } from '../shared/backup-types.js';
import { NimboError } from '../lib/errors.js';
import { authorize } from '../core/authz/policy.js';
import { MAX_LIST, type Download } from '../core/backup/backup-files.js';
import { accepted, type ApiContext } from './context.js';
import { PAGED, PageQuery, byName, listPage, pageOfSchema, type PageParams } from './paging.js';
import { projectOf } from './request-project.js';
import { keys } from '../store/keys.js';

const Accepted = Type.Object({ operation: Operation });
const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const tags = ['backups'];
const read = { access: { action: 'read' as const, resource: 'backup' as const } };
const write = { access: { action: 'write' as const, resource: 'backup' as const } };
const IdParams = Type.Object({ id: BackupId });
const StoreQuery = Type.Object({ store: Type.Optional(Name) }, { additionalProperties: false });
const PathQuery = Type.Object(
  { store: Type.Optional(Name), path: Type.String({ minLength: 1, maxLength: 4096 }), part: Type.Optional(Type.Integer({ minimum: 0, maximum: 128, description: 'VM disks: the partition (0: a filesystem on the whole disk; default: the first with ext4 or XFS)' })) },
  { additionalProperties: false },
);
const ExportQuery = Type.Object(
  { store: Type.Optional(Name), format: Type.Union([Type.Literal('raw'), Type.Literal('qcow2'), Type.Literal('tar')]), disk: Type.Optional(Type.String({ maxLength: 130, pattern: '^[A-Za-z0-9._/-]+$' })) },
  { additionalProperties: false },
);
const Entry = Type.Object({ name: Type.String(), type: Type.String(), size: Type.Integer(), mode: Type.Optional(Type.Integer()), mtime: Type.Optional(Type.String()) });
const Tree = Type.Object({
  entries: Type.Array(Entry),
  next: Type.Optional(Type.String({ description: 'cursor of the next page (pass it as "after"); absent on the last page' })),
  truncated: Type.Boolean(),
  partitions: Type.Optional(Type.Array(Type.Object({ index: Type.Integer(), fs: Type.Union([Type.String(), Type.Null()]), size: Type.Integer() }))),
});

/** Send a download: octet-stream with its file name (and length when known). */
function send(reply: FastifyReply, d: Download) {
  reply.type('application/octet-stream').header('content-disposition', `attachment; filename="${d.filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`);
  if (d.size !== undefined) reply.header('content-length', d.size);
  return reply.send(d.stream);
}

/** /api/v1/instances/{name}/backups, /api/v1/backups (a project's backups) and /api/v1/backup-jobs. */
export async function backupRoutes(app: FastifyInstance, ctx: ApiContext) {
  const b = () => ctx.backups;
  app.post<{ Params: { name: string }; Body: BackupCreate }>(
    '/instances/:name/backups',
    { config: write, schema: { tags, summary: 'Back up an instance into a store: a running VM at one instant (copy-before-write), incremental through its dirty bitmaps; a container its file tree', params: Type.Object({ name: Name }), body: BackupCreate, response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await b().service.create(projectOf(req), req.params.name, req.body)),
  );
  app.get<{ Querystring: PageParams & { store?: string; instance?: string } }>(
    '/backups',
    { config: read, schema: { tags, summary: `The project's backups, newest first,${PAGED}`, querystring: Type.Composite([PageQuery, Type.Object({ store: Type.Optional(Name), instance: Type.Optional(Name) })], { additionalProperties: false }), response: { 200: pageOfSchema('backups', Backup), ...errors } } },
    async (req) => listPage('backups', await b().service.list(projectOf(req), { store: req.query.store, instance: req.query.instance }), { key: (x: Backup) => `${x.time}|${x.id}`, descending: true }, req.query, (x) => x),
  );
  app.get<{ Params: { id: string }; Querystring: { store?: string } }>(
    '/backups/:id',
    { config: read, schema: { tags, summary: 'One backup', params: IdParams, querystring: StoreQuery, response: { 200: Backup, ...errors } } },
    async (req) => b().service.get(projectOf(req), req.params.id, req.query.store),
  );
  app.delete<{ Params: { id: string }; Querystring: { store?: string } }>(
    '/backups/:id',
    { config: write, schema: { tags, summary: 'Delete a backup (its chunks go at the next garbage collection)', params: IdParams, querystring: StoreQuery, response: { 204: Type.Null(), ...errors } } },
    async (req, reply) => {
      await b().service.remove(projectOf(req), req.params.id, req.query.store);
      return reply.code(204).send();
    },
  );
  app.post<{ Params: { id: string }; Querystring: { store?: string }; Body: BackupRestore }>(
    '/backups/:id/restore',
    { config: write, schema: { tags, summary: 'Restore a backup: over its instance (force, when it exists) or as a new instance (name, pool, targetProject)', params: IdParams, querystring: StoreQuery, body: BackupRestore, response: { 202: Accepted, ...errors } } },
    async (req, reply) => {
      const target = req.body.targetProject;
      if (target !== undefined && target !== projectOf(req) && req.principal) {
        const d = authorize(req.principal, { action: 'write', resource: 'instance' }, target);
        if (!d.allowed) throw new NimboError('Forbidden', d.message);
        if (!(await ctx.store.get(keys.project(target)))) throw new NimboError('NotFound', `project ${target} not found`);
      }
      return accepted(reply, await b().restorer.restore(projectOf(req), req.params.id, req.body, req.query.store));
    },
  );
  app.get<{ Params: { id: string }; Querystring: { store?: string; format: 'raw' | 'qcow2' | 'tar'; disk?: string } }>(
    '/backups/:id/export',
    { config: read, schema: { tags, summary: 'Download a backup: a VM disk as raw or qcow2, a container tree as tar (application/octet-stream, streamed)', params: IdParams, querystring: ExportQuery, response: errors } },
    async (req, reply) => send(reply, await b().files.export(projectOf(req), req.params.id, req.query.format, { store: req.query.store, disk: req.query.disk })),
  );
  app.get<{ Params: { id: string }; Querystring: PageParams & { store?: string; path: string; part?: number } }>(
    '/backups/:id/tree',
    { config: read, schema: { tags, summary: `List a directory inside a backup (a container tree, or the filesystem of a VM disk: ext4 or XFS; at most ${MAX_LIST} entries),${PAGED}`, params: IdParams, querystring: Type.Composite([PageQuery, PathQuery], { additionalProperties: false }), response: { 200: Tree, ...errors } } },
    async (req) => {
      const { limit, after, ...q } = req.query;
      const res = await b().files.list(projectOf(req), req.params.id, q.path, { store: q.store, part: q.part });
      const page = await listPage('entries', res.entries, byName, { limit, after }, (e) => e);
      return { ...page, truncated: res.truncated, ...(res.partitions ? { partitions: res.partitions } : {}) };
    },
  );
  app.get<{ Params: { id: string }; Querystring: { store?: string; path: string; part?: number } }>(
    '/backups/:id/file',
    { config: read, schema: { tags, summary: 'Download one regular file from a backup (application/octet-stream, streamed)', params: IdParams, querystring: PathQuery, response: errors } },
    async (req, reply) => send(reply, await b().files.file(projectOf(req), req.params.id, req.query.path, { store: req.query.store, part: req.query.part })),
  );
  app.post<{ Body: BackupPrune & { store: string } }>(
    '/backups/prune',
    { config: write, schema: { tags, summary: "Apply a retention policy to the project's backups in a store, per instance (dryRun: only say what would go)", body: Type.Composite([BackupPrune, Type.Object({ store: Name })], { additionalProperties: false }), response: { 200: PruneResult, ...errors } } },
    async (req) => b().maintenance.prune(req.body.store, req.body.policy, { project: projectOf(req), instance: req.body.instance, dryRun: req.body.dryRun }),
  );
  app.post<{ Body: { store: string } }>(
    '/backups/verify',
    { config: write, schema: { tags, summary: "Verify the chunks of the project's backups in a store (reads them all)", body: Type.Object({ store: Name }, { additionalProperties: false }), response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await b().maintenance.verify(req.body.store, projectOf(req))),
  );
  const JobParams = Type.Object({ job: Name });
  app.get<{ Querystring: PageParams }>(
    '/backup-jobs',
    { config: read, schema: { tags, summary: `The project's backup jobs,${PAGED}`, querystring: PageQuery, response: { 200: pageOfSchema('jobs', BackupJob), ...errors } } },
    async (req) => listPage('jobs', await b().jobs.list(projectOf(req)), { key: (x: BackupJob) => x.name }, req.query, (x) => x),
  );
  app.get<{ Params: { job: string } }>(
    '/backup-jobs/:job',
    { config: read, schema: { tags, summary: 'One backup job, with its next run', params: JobParams, response: { 200: BackupJob, ...errors } } },
    async (req) => b().jobs.get(projectOf(req), req.params.job),
  );
  app.put<{ Params: { job: string }; Body: BackupJobSet }>(
    '/backup-jobs/:job',
    { config: write, schema: { tags, summary: 'Create or replace a backup job: a cron schedule (UTC) for one instance or all of the project, with retention', params: JobParams, body: BackupJobSet, response: { 200: BackupJob, ...errors } } },
    async (req) => b().jobs.set(projectOf(req), req.params.job, req.body),
  );
  app.post<{ Params: { job: string } }>(
    '/backup-jobs/:job/run',
    { config: write, schema: { tags, summary: 'Run a backup job now and wait for it (its schedule is unchanged)', params: JobParams, response: { 200: Type.Object({ result: Type.String() }), ...errors } } },
    async (req) => {
      const job = await b().jobs.get(projectOf(req), req.params.job);
      return { result: await b().jobs.run(job) };
    },
  );
  app.delete<{ Params: { job: string } }>(
    '/backup-jobs/:job',
    { config: write, schema: { tags, summary: 'Delete a backup job (its backups stay)', params: JobParams, response: { 204: Type.Null(), ...errors } } },
    async (req, reply) => {
      await b().jobs.remove(projectOf(req), req.params.job);
      return reply.code(204).send();
    },
  );
}
