import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody, Name } from '../shared/api-types.js';
import { EXEC_OUTPUT_CAP, FILE_PULL_MAX } from '../core/container-exec.js';
import { EXEC_STREAM_TYPE } from '../shared/exec-frames.js';
import type { ApiContext } from './context.js';
import { projectOf } from './request-project.js';

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

/** Answer of an exec: at most EXEC_OUTPUT_CAP bytes of each stream, `truncated` when more was dropped. */
export const ExecResult = Type.Object({
  exitCode: Type.Integer(),
  stdout: Type.String(),
  stderr: Type.String(),
  truncated: Type.Boolean({ description: `true when stdout or stderr passed ${EXEC_OUTPUT_CAP} bytes and the rest was dropped (use ?stream=1 for all of it)` }),
});

const ExecQuery = Type.Object(
  { stream: Type.Optional(Type.Union([Type.Literal('1'), Type.Literal('true'), Type.Literal('0'), Type.Literal('false')], { description: `1: answer with ${EXEC_STREAM_TYPE}: stdout/stderr/exit frames, unbounded, read at the client's pace` })) },
  { additionalProperties: false },
);

const FileQuery = Type.Object({ path: Type.String({ pattern: '^/', maxLength: 4096 }), mode: Type.Optional(Type.String({ pattern: '^0?[0-7]{3,4}$' })) }, { additionalProperties: false });

/** /api/v1/instances/{name}/exec and /files: commands and files in a container. */
export async function containerRoutes(app: FastifyInstance, ctx: ApiContext) {
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: 256 * 1024 * 1024 }, (_req, body, done) => done(null, body));
  const containers = () => ctx.instanceExec;
  app.get<{ Params: { name: string }; Querystring: { path: string } }>(
    '/instances/:name/files',
    {
      // Reads inside the guest, like exec: a viewer sees the instance, not its files.
      config: { access: { action: 'write', resource: 'instance' } },
      schema: {
        tags: ['instances'],
        summary: `Read a regular file from a running container (application/octet-stream, streamed; at most ${FILE_PULL_MAX} bytes, cut after 30 s without data or 1 h in all)`,
        params: Type.Object({ name: Name }),
        querystring: FileQuery,
        response: { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (req, reply) => {
      const data = await containers().pullFile(await ctx.instances.record(projectOf(req), req.params.name), req.query.path);
      return reply.type('application/octet-stream').send(data);
    },
  );
  app.put<{ Params: { name: string }; Querystring: { path: string; mode?: string }; Body: Buffer }>(
    '/instances/:name/files',
    { config: { access: { action: 'write', resource: 'instance' } }, schema: { tags: ['instances'], summary: 'Write a file into a running container (body: the bytes, application/octet-stream)', params: Type.Object({ name: Name }), querystring: FileQuery, response: { 204: Type.Null(), ...errors } } },
    async (req, reply) => {
      await containers().pushFile(await ctx.instances.record(projectOf(req), req.params.name), req.query.path, req.body ?? Buffer.alloc(0), req.query.mode);
      return reply.code(204).send();
    },
  );
  app.post<{ Params: { name: string }; Body: ExecRequest; Querystring: { stream?: string } }>(
    '/instances/:name/exec',
    {
      config: { access: { action: 'write', resource: 'instance' } },
      schema: {
        tags: ['instances'],
        summary: `Run a command in a running container, or in a running VM through its guest agent (output sent when it ends): its exit code and output (at most ${EXEC_OUTPUT_CAP} bytes of each stream), or with ?stream=1 all of it as ${EXEC_STREAM_TYPE} frames`,
        params: Type.Object({ name: Name }),
        querystring: ExecQuery,
        body: ExecRequest,
        response: { 200: ExecResult, ...errors },
      },
    },
    async (req, reply) => {
      const rec = await ctx.instances.record(projectOf(req), req.params.name);
      const timeoutMs = (req.body.timeout ?? 60) * 1000;
      if (req.query.stream === '1' || req.query.stream === 'true') {
        const out = await containers().execStream(rec, req.body.command, req.body.input, timeoutMs);
        return reply.type(EXEC_STREAM_TYPE).send(out);
      }
      const r = await containers().exec(rec, req.body.command, req.body.input, timeoutMs);
      return { exitCode: r.code, stdout: r.stdout, stderr: r.stderr, truncated: r.truncated.stdout || r.truncated.stderr };
    },
  );
}
