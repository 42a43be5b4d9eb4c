import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Readable } from 'node:stream';
import { ErrorBody, Name, Operation } from '../shared/api-types.js';
import { accepted, type ApiContext } from './context.js';

/** A refused upload body up to this size is read and dropped, so that the client reads the refusal. */
const UPLOAD_DRAIN_MAX = 64 * 1024 * 1024;

/**
 * POST /images/upload?name=NAME: a disk image as the raw request body (application/octet-stream), streamed to
 * the images dir, never held in memory. Registered in a plugin of its own: there the octet-stream parser hands
 * over the request stream, while elsewhere (container file pushes) it buffers a bounded body.
 */
export async function imageUploadRoutes(app: FastifyInstance, ctx: ApiContext) {
  await app.register(async (scope) => {
    scope.removeContentTypeParser('application/octet-stream');
    scope.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
    scope.post<{ Querystring: { name: string }; Body: Readable }>(
      '/images/upload',
      {
        config: { access: { action: 'write', resource: 'host' } },
        schema: {
          tags: ['images'],
          summary: 'Upload a qcow2 or raw disk image as the request body (application/octet-stream, Content-Length required), imported as a public image',
          description:
            "Refused before a byte is written (411 without Content-Length, 413 above the daemon's --upload-max, default 16 GiB, or above the free space); " +
            'a body that runs past its Content-Length is cut off and deleted. The import (qemu-img validation) runs as the Operation answered.',
          querystring: Type.Object({ name: Name }, { additionalProperties: false }),
          consumes: ['application/octet-stream'],
          response: { 202: Type.Object({ operation: Operation }), 411: ErrorBody, 413: ErrorBody, 409: ErrorBody, 404: ErrorBody },
        },
      },
      async (req, reply) => {
        const body = req.body as Readable | undefined;
        if (!body || typeof body.pipe !== 'function') {
          return reply.code(400).send({ error: { code: 'InvalidArgument', message: 'send the disk image as the body, with Content-Type: application/octet-stream' } });
        }
        try {
          return accepted(reply, await ctx.images.upload(req.query.name, req.headers['content-length'], body));
        } catch (e) {
          if (!body.readableEnded) {
            // A refused body that is small is read and dropped, so the client, still sending, reads this answer
            // (a socket closed with unread data answers with a reset instead). A large one is not drained: the
            // connection ends, rather than take in gigabytes nobody keeps.
            const declared = Number(req.headers['content-length'] ?? NaN);
            if (Number.isFinite(declared) && declared - body.readableLength <= UPLOAD_DRAIN_MAX) body.resume();
            else reply.header('connection', 'close');
          }
          throw e;
        }
      },
    );
  });
}
