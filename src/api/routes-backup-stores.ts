import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody, Name, Operation } from '../shared/api-types.js';
import { BackupId, BackupPrune, BackupStore, BackupStoreCreate, BackupSync, PruneResult } from '../shared/backup-types.js';
import { notFound } from '../lib/errors.js';
import { syncListing } from '../core/backup/backup-sync.js';
import { accepted, type ApiContext } from './context.js';
import { PAGED, PageQuery, byName, listPage, pageOfSchema, type PageParams } from './paging.js';

const Accepted = Type.Object({ operation: Operation });
const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const tags = ['backups'];
const read = { access: { action: 'read' as const, resource: 'backup-store' as const } };
const write = { access: { action: 'write' as const, resource: 'backup-store' as const } };
const sync = { access: { action: 'read' as const, resource: 'backup-sync' as const } };
const S = Type.Object({ store: Name });

/** /api/v1/backup-stores: datastores (admins and operators), their verify, prune, GC and sync. */
export async function backupStoreRoutes(app: FastifyInstance, ctx: ApiContext) {
  const b = () => ctx.backups;
  const platform = (req: { principal?: { platformRole?: string } }) => req.principal === undefined || req.principal.platformRole !== undefined;
  app.get<{ Querystring: PageParams }>('/backup-stores', { config: read, schema: { tags, summary: `The backup stores (paths shown to admins and operators only),${PAGED}`, querystring: PageQuery, response: { 200: pageOfSchema('stores', BackupStore) } } }, async (req) =>
    listPage('stores', await b().stores.list(), byName, req.query, (r) => b().stores.view(r, { showPath: platform(req) })),
  );
  app.post<{ Body: BackupStoreCreate }>(
    '/backup-stores',
    { config: write, schema: { tags, summary: 'Create a backup store in an empty directory (encrypt: AES-256-GCM, the key wrapped by the passphrase), or attach the datastore a directory holds', body: BackupStoreCreate, response: { 201: BackupStore, ...errors } } },
    async (req, reply) => reply.code(201).send(await b().stores.view(await b().stores.create(req.body), { showPath: true })),
  );
  app.get<{ Params: { store: string } }>(
    '/backup-stores/:store',
    { config: read, schema: { tags, summary: 'One backup store with its usage', params: S, response: { 200: BackupStore, ...errors } } },
    async (req) => b().stores.view(await b().stores.get(req.params.store), { showPath: platform(req), usage: true }),
  );
  app.get<{ Params: { store: string } }>(
    '/backup-stores/:store/key',
    { config: write, schema: { tags, summary: "The store's key wrapped by its passphrase: give it to another daemon's store create (with the passphrase) to sync between them", params: S, response: errors } },
    async (req) => b().stores.wrappedKey(req.params.store),
  );
  app.delete<{ Params: { store: string } }>(
    '/backup-stores/:store',
    { config: write, schema: { tags, summary: 'Forget a backup store (its directory and backups stay, to be attached again)', params: S, response: { 204: Type.Null(), ...errors } } },
    async (req, reply) => {
      await b().stores.remove(req.params.store);
      return reply.code(204).send();
    },
  );
  app.post<{ Params: { store: string } }>(
    '/backup-stores/:store/verify',
    { config: write, schema: { tags, summary: 'Verify every chunk of a store (re-read, digest checked); the result names the backups a bad chunk breaks', params: S, response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await b().maintenance.verify(req.params.store)),
  );
  app.post<{ Params: { store: string }; Querystring: { graceSeconds?: number } }>(
    '/backup-stores/:store/gc',
    { config: write, schema: { tags, summary: 'Garbage collection: remove the chunks no backup uses (mark and sweep; safe while backups run); chunks written or reused in the last graceSeconds (default 60) stay', params: S, querystring: Type.Object({ graceSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400 })) }, { additionalProperties: false }), response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await b().maintenance.gc(req.params.store, req.query.graceSeconds !== undefined ? { graceMs: req.query.graceSeconds * 1000 } : {})),
  );
  app.post<{ Params: { store: string }; Body: BackupPrune }>(
    '/backup-stores/:store/prune',
    { config: write, schema: { tags, summary: "Apply a retention policy to every project's backups in a store, per instance (dryRun: only say)", params: S, body: BackupPrune, response: { 200: PruneResult, ...errors } } },
    async (req) => b().maintenance.prune(req.params.store, req.body.policy, { instance: req.body.instance, dryRun: req.body.dryRun }),
  );
  app.post<{ Params: { store: string }; Body: BackupSync }>(
    '/backup-stores/:store/sync',
    { config: write, schema: { tags, summary: "Pull another nimbo daemon's store into this one: only the backups and chunks missing here (same key needed)", params: S, body: BackupSync, response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await b().syncer.pull(req.params.store, req.body)),
  );
  // The source side of a sync: what another daemon's pull reads (admins, and operators read-only).
  app.get<{ Params: { store: string } }>(
    '/backup-stores/:store/sync',
    { config: sync, schema: { tags, summary: 'Sync source: every backup of the store with its archive files', params: S } },
    async (req) => syncListing(await b().stores.use(req.params.store)),
  );
  const FileParams = Type.Object({ store: Name, project: Name, uuid: Type.String({ pattern: '^[0-9a-f-]{36}$' }), id: BackupId, file: Type.String({ pattern: '^[A-Za-z0-9._-]{1,128}$' }) });
  app.get<{ Params: { store: string; project: string; uuid: string; id: string; file: string } }>(
    '/backup-stores/:store/sync/snapshots/:project/:uuid/:id/:file',
    { config: sync, schema: { tags, summary: 'Sync source: one index file of a backup (application/octet-stream)', params: FileParams, response: errors } },
    async (req, reply) => {
      const st = await b().stores.use(req.params.store);
      const m = await st.ds.findSnapshot(req.params.id);
      if (!m || m.project !== req.params.project || m.instance.uuid !== req.params.uuid) throw notFound(`backup ${req.params.id}`);
      if (!m.archives.some((a) => a.file === req.params.file)) throw notFound(`file ${req.params.file} of backup ${req.params.id}`);
      return reply.type('application/octet-stream').send(await st.ds.readIndexFile(m.project, m.instance.uuid, m.id, req.params.file));
    },
  );
  app.get<{ Params: { store: string; digest: string } }>(
    '/backup-stores/:store/sync/chunks/:digest',
    { config: sync, schema: { tags, summary: 'Sync source: one chunk as stored (compressed, encrypted when the store is; application/octet-stream)', params: Type.Object({ store: Name, digest: Type.String({ pattern: '^[0-9a-f]{64}$' }) }), response: errors } },
    async (req, reply) => {
      const st = await b().stores.use(req.params.store);
      if (!(await st.ds.hasChunk(req.params.digest))) throw notFound(`chunk ${req.params.digest}`);
      return reply.type('application/octet-stream').send(await st.ds.readChunk(req.params.digest));
    },
  );
}
