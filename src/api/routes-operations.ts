import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody, Operation } from '../shared/api-types.js';
import { OPS_PAGE_DEFAULT, OPS_PAGE_MAX } from '../core/operation-history.js';
import type { ApiContext } from './context.js';

const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) });

/** /api/v1/operations routes. */
export async function operationRoutes(app: FastifyInstance, ctx: ApiContext) {
  app.get<{ Querystring: { limit?: number; after?: string } }>(
    '/operations',
    {
      schema: {
        tags: ['operations'],
        summary: `List operations, newest first, a page at a time (default ${OPS_PAGE_DEFAULT}, at most ${OPS_PAGE_MAX}); pass the answer's "next" as "after" for the following page`,
        querystring: Type.Object(
          {
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: OPS_PAGE_MAX, description: `operations per page (default ${OPS_PAGE_DEFAULT})` })),
            after: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$', description: 'the "next" cursor of the previous page' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ operations: Type.Array(Operation), next: Type.Optional(Type.String({ description: 'cursor of the next page; absent on the last page' })) }), 400: ErrorBody },
      },
    },
    async (req) => ctx.ops.page(req.query.limit, req.query.after),
  );

  app.get<{ Params: { id: string } }>(
    '/operations/:id',
    { schema: { tags: ['operations'], summary: 'Show one operation', params: IdParams, response: { 200: Operation, 404: ErrorBody } } },
    async (req) => ctx.ops.get(req.params.id),
  );

  app.get<{ Params: { id: string }; Querystring: { timeout?: number } }>(
    '/operations/:id/wait',
    {
      schema: {
        tags: ['operations'],
        summary: 'Wait for an operation to end (or the timeout in seconds to pass)',
        params: IdParams,
        querystring: Type.Object({ timeout: Type.Optional(Type.Number({ minimum: 0, maximum: 3600 })) }, { additionalProperties: false }),
        response: { 200: Operation, 404: ErrorBody },
      },
    },
    async (req) => ctx.ops.wait(req.params.id, (req.query.timeout ?? 30) * 1000),
  );

  app.delete<{ Params: { id: string } }>(
    '/operations/:id',
    { schema: { tags: ['operations'], summary: 'Cancel a running operation', params: IdParams, response: { 200: Operation, 404: ErrorBody, 409: ErrorBody } } },
    async (req) => ctx.ops.cancel(req.params.id),
  );
}
