import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody, Operation } from '../shared/api-types.js';
import { PAGED, PageQuery, pageOfSchema, type PageParams } from './paging.js';
import type { ApiContext } from './context.js';
import { pageOf } from '../core/operation-history.js';
import { mayUse, usableOperation } from './item-access.js';

const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) });

/** /api/v1/operations routes. */
export async function operationRoutes(app: FastifyInstance, ctx: ApiContext) {
  app.get<{ Querystring: PageParams }>(
    '/operations',
    { config: { access: { action: 'read', resource: 'operation' } }, schema: { tags: ['operations'], summary: `List operations, newest first,${PAGED}`, querystring: PageQuery, response: { 200: pageOfSchema('operations', Operation), 400: ErrorBody } } },
    async (req) => pageOf((await ctx.ops.list()).filter((op) => mayUse(req, 'operation', op.project)), req.query.limit, req.query.after),
  );

  app.get<{ Params: { id: string } }>(
    '/operations/:id',
    { config: { access: { action: 'read', resource: 'operation' } }, schema: { tags: ['operations'], summary: 'Show one operation', params: IdParams, response: { 200: Operation, 404: ErrorBody } } },
    async (req) => usableOperation(req, await ctx.ops.get(req.params.id)),
  );

  app.get<{ Params: { id: string }; Querystring: { timeout?: number } }>(
    '/operations/:id/wait',
    {
      config: { access: { action: 'read', resource: 'operation' } },
      schema: {
        tags: ['operations'],
        summary: 'Wait for an operation to end (or the timeout in seconds to pass)',
        params: IdParams,
        querystring: Type.Object({ timeout: Type.Optional(Type.Number({ minimum: 0, maximum: 3600 })) }, { additionalProperties: false }),
        response: { 200: Operation, 404: ErrorBody },
      },
    },
    async (req) => {
      usableOperation(req, await ctx.ops.get(req.params.id));
      return ctx.ops.wait(req.params.id, (req.query.timeout ?? 30) * 1000);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/operations/:id',
    { config: { access: { action: 'write', resource: 'operation' } }, schema: { tags: ['operations'], summary: 'Cancel a running operation', params: IdParams, response: { 200: Operation, 404: ErrorBody, 409: ErrorBody } } },
    async (req) => {
      usableOperation(req, await ctx.ops.get(req.params.id), 'write');
      return ctx.ops.cancel(req.params.id);
    },
  );
}
