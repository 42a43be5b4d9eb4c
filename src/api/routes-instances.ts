import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ACTIONS, ErrorBody, Instance, InstanceAction, InstanceCreate, Name, Operation, type ActionName } from '../shared/api-types.js';
import { projectOf } from './request-project.js';
import { accepted, type ApiContext } from './context.js';
import { PAGED, PageQuery, byName, listPage, pageOfSchema, type PageParams } from './paging.js';

const Accepted = Type.Object({ operation: Operation });
const NameParams = Type.Object({ name: Name });
const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };

/** /api/v1/instances routes. */
export async function instanceRoutes(app: FastifyInstance, ctx: ApiContext) {
  app.get<{ Querystring: PageParams }>(
    '/instances',
    { config: { access: { action: 'read', resource: 'instance' } }, schema: { tags: ['instances'], summary: `List instances${PAGED}`, querystring: PageQuery, response: { 200: pageOfSchema('instances', Instance), 400: ErrorBody } } },
    async (req) => listPage('instances', await ctx.instances.records(projectOf(req)), byName, req.query, (r) => ctx.instances.view(r)),
  );

  app.post<{ Body: InstanceCreate }>(
    '/instances',
    {
      config: { access: { action: 'write', resource: 'instance' } },
      schema: {
        tags: ['instances'],
        summary: 'Create (launch) an instance',
        description: 'A missing built-in image (tiny, debian-12) is built first, in the same Operation (one build shared by concurrent launches). An image that is neither there nor built-in is 404.',
        body: InstanceCreate,
        response: { 202: Accepted, ...errors },
      },
    },
    async (req, reply) => accepted(reply, await ctx.instances.create(projectOf(req), req.body)),
  );

  app.get<{ Params: { name: string } }>(
    '/instances/:name',
    { config: { access: { action: 'read', resource: 'instance' } }, schema: { tags: ['instances'], summary: "Show one instance (a running VM: with what its guest agent reports)", params: NameParams, response: { 200: Instance, ...errors } } },
    async (req) => ctx.instances.view(await ctx.instances.record(projectOf(req), req.params.name), { agent: true }),
  );

  app.delete<{ Params: { name: string }; Querystring: { force?: boolean } }>(
    '/instances/:name',
    {
      config: { access: { action: 'write', resource: 'instance' } },
      schema: {
        tags: ['instances'],
        summary: 'Delete an instance (its disk, tap and address too)',
        params: NameParams,
        querystring: Type.Object({ force: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 202: Accepted, ...errors },
      },
    },
    async (req, reply) => accepted(reply, await ctx.actions.remove(projectOf(req), req.params.name, req.query.force ?? false)),
  );

  app.post<{ Params: { name: string; action: ActionName }; Body: InstanceAction | undefined }>(
    '/instances/:name/:action',
    {
      config: { access: { action: 'write', resource: 'instance' } },
      schema: {
        tags: ['instances'],
        summary: 'Start, stop, restart, pause or resume an instance',
        params: Type.Object({ name: Name, action: Type.Union(ACTIONS.map((a) => Type.Literal(a))) }),
        body: Type.Optional(InstanceAction),
        response: { 202: Accepted, ...errors },
      },
    },
    async (req, reply) => accepted(reply, await ctx.actions.act(projectOf(req), req.params.name, req.params.action, req.body ?? {})),
  );
}
