import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody, InstanceCopy, Name, Operation } from '../shared/api-types.js';
import { accepted, type ApiContext } from './context.js';
import { projectOf } from './request-project.js';

const Accepted = Type.Object({ operation: Operation });
const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };

/** POST /api/v1/instances/{name}/copy. */
export async function copyRoutes(app: FastifyInstance, ctx: ApiContext) {
  app.post<{ Params: { name: string }; Body: InstanceCopy }>(
    '/instances/:name/copy',
    {
      config: { access: { action: 'write', resource: 'instance' } },
      schema: {
        tags: ['instances'],
        summary: 'Copy an instance (stopped, or one of its snapshots) to a new instance with its own addresses and ids',
        params: Type.Object({ name: Name }),
        body: InstanceCopy,
        response: { 202: Accepted, ...errors },
      },
    },
    async (req, reply) => accepted(reply, await ctx.copier.copy(projectOf(req), req.params.name, req.body)),
  );
}
