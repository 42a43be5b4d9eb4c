import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody, Name } from '../shared/api-types.js';
import type { ApiContext } from './context.js';

const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };

/** Body of POST /instances/{name}/exec. */
export const ExecRequest = Type.Object(
  {
    command: Type.Array(Type.String({ maxLength: 65536 }), { minItems: 1, maxItems: 1024 }),
    input: Type.Optional(Type.String({ maxLength: 16 * 1024 * 1024, description: 'written to the command\'s stdin' })),
    timeout: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, description: 'seconds (default 60)' })),
  },
  { additionalProperties: false },
);
export type ExecRequest = Static<typeof ExecRequest>;

/** Answer of an exec. */
export const ExecResult = Type.Object({ exitCode: Type.Integer(), stdout: Type.String(), stderr: Type.String() });

/** /api/v1/instances/{name}/exec: run a command in a container (exit code passed through). */
export async function containerRoutes(app: FastifyInstance, ctx: ApiContext) {
  app.post<{ Params: { name: string }; Body: ExecRequest }>(
    '/instances/:name/exec',
    { schema: { tags: ['instances'], summary: 'Run a command in a running container and return its exit code and output', params: Type.Object({ name: Name }), body: ExecRequest, response: { 200: ExecResult, ...errors } } },
    async (req) => {
      const rec = await ctx.instances.record(req.params.name);
      if (!ctx.instances.containers) throw new Error('containers are not available');
      const r = await ctx.instances.containers.exec(rec, req.body.command, req.body.input, (req.body.timeout ?? 60) * 1000);
      return { exitCode: r.code, stdout: r.stdout, stderr: r.stderr };
    },
  );
}
