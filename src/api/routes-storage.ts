import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody, Name, Operation } from '../shared/api-types.js';
import { Pool, PoolCreate, Snapshot, SnapshotCreate, Volume, VolumeAttach, VolumeClone, VolumeCreate, VolumeExport, VolumeImport, VolumePatch } from '../shared/storage-types.js';
import { accepted, type ApiContext } from './context.js';
import { PAGED, PageQuery, byCreation, byName, listPage, pageOfSchema, type PageParams } from './paging.js';
import { projectOf } from './request-project.js';

const Accepted = Type.Object({ operation: Operation });
const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const P = Type.Object({ pool: Name });
const PV = Type.Object({ pool: Name, volume: Name });
const PVS = Type.Object({ pool: Name, volume: Name, snapshot: Name });
type PVParams = { pool: string; volume: string };
const tags = ['storage'];

/** /api/v1/storage routes (pools, volumes, snapshots) and volume attachment to instances. */
export async function storageRoutes(app: FastifyInstance, ctx: ApiContext) {
  const s = ctx.storage;
  app.get<{ Querystring: PageParams }>('/storage/pools', { config: { access: { action: 'read', resource: 'pool' } }, schema: { tags, summary: `List storage pools with usage${PAGED}`, querystring: PageQuery, response: { 200: pageOfSchema('pools', Pool), 400: ErrorBody } } }, async (req) =>
    listPage('pools', await s.pools(), byName, req.query, (p) => s.poolView(p)),
  );
  app.post<{ Body: PoolCreate }>('/storage/pools', { config: { access: { action: 'write', resource: 'pool' } }, schema: { tags, summary: 'Create a storage pool', body: PoolCreate, response: { 202: Accepted, ...errors } } }, async (req, reply) =>
    accepted(reply, await s.createPool(req.body)),
  );
  app.get<{ Params: { pool: string } }>('/storage/pools/:pool', { config: { access: { action: 'read', resource: 'pool' } }, schema: { tags, summary: 'Show a pool: size, used, provisioned, over-provisioning', params: P, response: { 200: Pool, ...errors } } }, async (req) =>
    s.poolView(await s.poolRecord(req.params.pool)),
  );
  app.delete<{ Params: { pool: string } }>('/storage/pools/:pool', { config: { access: { action: 'write', resource: 'pool' } }, schema: { tags, summary: 'Delete an empty pool', params: P, response: { 202: Accepted, ...errors } } }, async (req, reply) =>
    accepted(reply, await s.deletePool(req.params.pool)),
  );

  app.get<{ Params: { pool: string }; Querystring: PageParams }>('/storage/pools/:pool/volumes', { config: { access: { action: 'read', resource: 'volume' } }, schema: { tags, summary: `List the volumes of a pool${PAGED}`, params: P, querystring: PageQuery, response: { 200: pageOfSchema('volumes', Volume), ...errors } } }, async (req) =>
    listPage('volumes', await s.volumes(projectOf(req), req.params.pool), byName, req.query, (v) => v),
  );
  app.post<{ Params: { pool: string }; Body: VolumeCreate }>(
    '/storage/pools/:pool/volumes',
    { config: { access: { action: 'write', resource: 'volume' } }, schema: { tags, summary: 'Create a thin volume', params: P, body: VolumeCreate, response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await s.createVolume(projectOf(req), req.params.pool, req.body)),
  );
  app.post<{ Params: { pool: string }; Body: VolumeImport }>(
    '/storage/pools/:pool/import',
    { config: { access: { action: 'write', resource: 'host' } }, schema: { tags, summary: "Import a qcow2/raw file on the daemon's host as a volume", params: P, body: VolumeImport, response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await s.importVolume(projectOf(req), req.params.pool, req.body)),
  );
  app.get<{ Params: PVParams }>('/storage/pools/:pool/volumes/:volume', { config: { access: { action: 'read', resource: 'volume' } }, schema: { tags, summary: 'Show a volume', params: PV, response: { 200: Volume, ...errors } } }, async (req) =>
    s.volume(projectOf(req), req.params.pool, req.params.volume),
  );
  app.patch<{ Params: PVParams; Body: VolumePatch }>(
    '/storage/pools/:pool/volumes/:volume',
    { config: { access: { action: 'write', resource: 'volume' } }, schema: { tags, summary: 'Grow (live when attached to a running VM), rename, or set I/O limits (live)', params: PV, body: VolumePatch, response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await ctx.instanceVolumes.patchVolume(projectOf(req), req.params.pool, req.params.volume, req.body)),
  );
  app.delete<{ Params: PVParams; Querystring: { force?: boolean } }>(
    '/storage/pools/:pool/volumes/:volume',
    {
      config: { access: { action: 'write', resource: 'volume' } },
      schema: {
        tags,
        summary: 'Delete a volume (refused while attached; force detaches it from a stopped instance first)',
        params: PV,
        querystring: Type.Object({ force: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 202: Accepted, ...errors },
      },
    },
    async (req, reply) => {
      const { pool, volume } = req.params;
      const detach = req.query.force ? ctx.instanceVolumes.forgetOnStopped(projectOf(req), pool, volume) : undefined;
      return accepted(reply, await s.deleteVolume(projectOf(req), pool, volume, req.query.force ?? false, detach));
    },
  );
  app.post<{ Params: PVParams; Body: VolumeClone }>(
    '/storage/pools/:pool/volumes/:volume/clone',
    { config: { access: { action: 'write', resource: 'volume' } }, schema: { tags, summary: 'Clone a volume or one of its snapshots (linked or full)', params: PV, body: VolumeClone, response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await s.clone(projectOf(req), req.params.pool, req.params.volume, req.body)),
  );
  app.post<{ Params: PVParams; Body: VolumeExport }>(
    '/storage/pools/:pool/volumes/:volume/export',
    { config: { access: { action: 'write', resource: 'host' } }, schema: { tags, summary: "Export a volume to a new qcow2/raw file on the daemon's host", params: PV, body: VolumeExport, response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await s.exportVolume(projectOf(req), req.params.pool, req.params.volume, req.body)),
  );

  app.get<{ Params: PVParams; Querystring: PageParams }>('/storage/pools/:pool/volumes/:volume/snapshots', { config: { access: { action: 'read', resource: 'snapshot' } }, schema: { tags, summary: `List snapshots of a volume, oldest first,${PAGED}`, params: PV, querystring: PageQuery, response: { 200: pageOfSchema('snapshots', Snapshot), ...errors } } }, async (req) =>
    listPage('snapshots', await s.snapshots(projectOf(req), req.params.pool, req.params.volume), byCreation, req.query, (x) => x),
  );
  app.post<{ Params: PVParams; Body: SnapshotCreate }>(
    '/storage/pools/:pool/volumes/:volume/snapshots',
    { config: { access: { action: 'write', resource: 'snapshot' } }, schema: { tags, summary: 'Snapshot a volume', params: PV, body: SnapshotCreate, response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await s.snapshotAction(projectOf(req), req.params.pool, req.params.volume, 'create', req.body.name)),
  );
  app.post<{ Params: PVParams & { snapshot: string } }>(
    '/storage/pools/:pool/volumes/:volume/snapshots/:snapshot/restore',
    { config: { access: { action: 'write', resource: 'snapshot' } }, schema: { tags, summary: 'Roll a volume back to a snapshot', params: PVS, response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await s.snapshotAction(projectOf(req), req.params.pool, req.params.volume, 'restore', req.params.snapshot)),
  );
  app.delete<{ Params: PVParams & { snapshot: string } }>(
    '/storage/pools/:pool/volumes/:volume/snapshots/:snapshot',
    { config: { access: { action: 'write', resource: 'snapshot' } }, schema: { tags, summary: 'Delete a snapshot', params: PVS, response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await s.snapshotAction(projectOf(req), req.params.pool, req.params.volume, 'delete', req.params.snapshot)),
  );

  app.post<{ Params: { name: string }; Body: VolumeAttach }>(
    '/instances/:name/volumes',
    { config: { access: { action: 'write', resource: 'instance' } }, schema: { tags: ['instances', 'storage'], summary: 'Attach a volume (hot-plugged into a running VM)', params: Type.Object({ name: Name }), body: VolumeAttach, response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await ctx.instanceVolumes.attach(projectOf(req), req.params.name, req.body.pool, req.body.volume, req.body.path)),
  );
  app.delete<{ Params: { name: string; pool: string; volume: string } }>(
    '/instances/:name/volumes/:pool/:volume',
    { config: { access: { action: 'write', resource: 'instance' } }, schema: { tags: ['instances', 'storage'], summary: 'Detach a volume (hot-unplugged from a running VM)', params: Type.Object({ name: Name, pool: Name, volume: Name }), response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await ctx.instanceVolumes.detach(projectOf(req), req.params.name, req.params.pool, req.params.volume)),
  );
}
