import { Type } from '@sinclair/typebox';
import { Arch } from '../shared/arch-schema.js';
import type { GuestArch } from '../shared/arch-types.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { ErrorBody, ImageBuild, Name, Operation } from '../shared/api-types.js';
import { accepted, type ApiContext } from './context.js';

const UPLOAD_DESCRIPTION =
  "Refused before a byte is written (411 without Content-Length, 413 above the daemon's --upload-max, default 16 GiB, or above the free space); " +
  'a body that runs past its Content-Length is cut off and deleted. The import (qemu-img validation) runs as the Operation answered.';

/** A refused upload body up to this size is read and dropped, so that the client reads the refusal. */
const UPLOAD_DRAIN_MAX = 64 * 1024 * 1024;

/**
 * POST /images/upload?name=NAME (and POST /images?name=NAME with the same body): a disk image as the raw request body (application/octet-stream), streamed to
 * the images dir, never held in memory. Registered in a plugin of its own: there the octet-stream parser hands
 * over the request stream, while elsewhere (container file pushes) it buffers a bounded body.
 */
export async function imageUploadRoutes(app: FastifyInstance, ctx: ApiContext) {
  await app.register(async (scope) => {
    scope.removeContentTypeParser('application/octet-stream');
    scope.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
    const upload = async (req: FastifyRequest<{ Querystring: { name: string; arch?: GuestArch } }>, reply: FastifyReply) => {
      const body = req.body as Readable | undefined;
      if (!body || typeof body.pipe !== 'function') {
        return reply.code(400).send({ error: { code: 'InvalidArgument', message: 'send the disk image as the body, with Content-Type: application/octet-stream' } });
      }
      try {
        return accepted(reply, await ctx.images.upload(req.query.name, req.headers['content-length'], body, req.query.arch));
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
    };
    scope.post<{ Querystring: { name: string; arch?: GuestArch }; Body: Readable }>(
      '/images/upload',
      {
        config: { access: { action: 'write', resource: 'host' } },
        schema: {
          tags: ['images'],
          summary: 'Upload a qcow2 or raw disk image as the request body (application/octet-stream, Content-Length required), imported as a public image',
          description: UPLOAD_DESCRIPTION,
          querystring: Type.Object({ name: Name, arch: Type.Optional(Arch) }, { additionalProperties: false }),
          consumes: ['application/octet-stream'],
          response: { 202: Type.Object({ operation: Operation }), 411: ErrorBody, 413: ErrorBody, 409: ErrorBody, 404: ErrorBody },
        },
      },
      upload,
    );
    // POST /images: a JSON body builds a built-in image; an application/octet-stream body is an upload (as above, ?name=).
    scope.post<{ Querystring: { name?: string; arch?: GuestArch }; Body: ImageBuild | Readable }>(
      '/images',
      {
        config: { access: { action: 'write', resource: 'host' } },
        schema: {
          tags: ['images'],
          summary: "Build a built-in image (tiny, debian-12) from a JSON body, or upload a disk image streamed as an application/octet-stream body with ?name= (public images are the platform's: admin or operator)",
          description: `With Content-Type: application/json the body is {name, builder}. With Content-Type: application/octet-stream the body is a qcow2 or raw disk image and ?name= names it, exactly like POST /images/upload: ${UPLOAD_DESCRIPTION}`,
          querystring: Type.Object({ name: Type.Optional(Name), arch: Type.Optional(Arch) }, { additionalProperties: false }),
          body: { content: { 'application/json': { schema: ImageBuild }, 'application/octet-stream': { schema: {} } } },
          response: { 202: Type.Object({ operation: Operation }), 411: ErrorBody, 413: ErrorBody, 409: ErrorBody, 404: ErrorBody },
        },
      },
      async (req, reply) => {
        const body = req.body as ImageBuild | Readable | undefined;
        if (body && typeof (body as Readable).pipe === 'function') {
          if (req.query.name === undefined) {
            (body as Readable).resume();
            return reply.code(400).send({ error: { code: 'InvalidArgument', message: 'an upload names its image with ?name=NAME' } });
          }
          return upload(req as FastifyRequest<{ Querystring: { name: string; arch?: GuestArch } }>, reply);
        }
        if (req.query.name !== undefined || req.query.arch !== undefined) return reply.code(400).send({ error: { code: 'InvalidArgument', message: '?name= and ?arch= are for uploads (application/octet-stream); a build names its image in the JSON body' } });
        const b = body as ImageBuild;
        return accepted(reply, await ctx.images.build(b.name, b.builder ?? b.name));
      },
    );
  });
}
