import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { createReadStream } from 'node:fs';
import { ErrorBody, Name, Operation } from '../shared/api-types.js';
import { ImageImportUrl, ImageIndex, ImageRemote, ImageRemoteAdd, ServedImage } from '../shared/image-fetch-types.js';
import { ifRangeHolds, parseRange } from '../host/http-range.js';
import { accepted, type ApiContext } from './context.js';

const Accepted = Type.Object({ operation: Operation });
const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const FileName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' });

/** Imports from URLs, the image server (what other daemons fetch) and image remotes (where this one fetches from). */
export async function imageFetchRoutes(app: FastifyInstance, ctx: ApiContext) {
  app.post<{ Body: ImageImportUrl }>(
    '/images/import-url',
    {
      config: { access: { action: 'write', resource: 'host' } },
      schema: {
        tags: ['images'],
        summary: 'Import a qcow2 or raw disk image downloaded by the daemon over HTTP(S), checked against a sha256 or a SHA256SUMS file (admin or operator)',
        description: "Streamed into the images dir (capped like an upload: --upload-max and the free space), resumed with Range when cut, then imported like a local file. On a checksum mismatch or any failure nothing is kept.",
        body: ImageImportUrl,
        response: { 202: Accepted, ...errors },
      },
    },
    async (req, reply) => accepted(reply, await ctx.urlImports.start(req.body)),
  );

  app.get(
    '/image-server/index',
    {
      config: { access: { action: 'read', resource: 'image' } },
      schema: { tags: ['image server'], summary: "This daemon's served images (ready public disk images) with the size and sha256 of each file; 404 unless the daemon runs with --image-server", response: { 200: ImageIndex, 404: ErrorBody } },
    },
    async () => ({ images: await ctx.imageServer.index() }),
  );

  app.get<{ Params: { name: string; file: string } }>(
    '/image-server/images/:name/files/:file',
    {
      config: { access: { action: 'read', resource: 'image' } },
      schema: {
        tags: ['image server'],
        summary: 'One file of a served image, streamed; Range (one range) with If-Range, ETag and Last-Modified supported',
        params: Type.Object({ name: Name, file: FileName }),
        response: { 404: ErrorBody, 416: ErrorBody },
      },
    },
    async (req, reply) => {
      const f = await ctx.imageServer.file(req.params.name, req.params.file);
      reply.header('accept-ranges', 'bytes').header('etag', f.etag).header('last-modified', f.lastModified).header('content-type', 'application/octet-stream');
      const range = ifRangeHolds(req.headers['if-range'] as string | undefined, f.etag, f.lastModified) ? parseRange(req.headers.range, f.size) : undefined;
      if (range === 'unsatisfiable') {
        return reply.code(416).header('content-range', `bytes */${f.size}`).send({ error: { code: 'InvalidArgument', message: `range ${req.headers.range} is outside the file (${f.size} bytes)` } });
      }
      const { start, end } = range ?? { start: 0, end: f.size - 1 };
      reply.header('content-length', String(Math.max(0, end - start + 1)));
      if (range) reply.code(206).header('content-range', `bytes ${start}-${end}/${f.size}`);
      if (req.method === 'HEAD' || f.size === 0) return reply.send();
      return reply.send(createReadStream(f.path, { start, end, highWaterMark: 1024 * 1024 }));
    },
  );

  app.get(
    '/image-remotes',
    { config: { access: { action: 'read', resource: 'host' } }, schema: { tags: ['image remotes'], summary: 'The image remotes: other daemons this one fetches REMOTE:IMAGE from (tokens are never shown)', response: { 200: Type.Object({ remotes: Type.Array(ImageRemote, { maxItems: 1000 }) }) } } },
    async () => ({ remotes: (await ctx.imageRemotes.list()).map((r) => ctx.imageRemotes.view(r)) }),
  );

  app.post<{ Body: ImageRemoteAdd }>(
    '/image-remotes',
    { config: { access: { action: 'write', resource: 'host' } }, schema: { tags: ['image remotes'], summary: "Add an image remote (admin or operator); refused unless its image server answers with an index", body: ImageRemoteAdd, response: { 201: ImageRemote, ...errors } } },
    async (req, reply) => reply.code(201).send(ctx.imageRemotes.view(await ctx.imageRemotes.add(req.body.name, req.body.url, req.body.token, req.body.ca))),
  );

  app.delete<{ Params: { name: string } }>(
    '/image-remotes/:name',
    { config: { access: { action: 'write', resource: 'host' } }, schema: { tags: ['image remotes'], summary: 'Remove an image remote (its cached images stay, as REMOTE:NAME, until deleted)', params: Type.Object({ name: Name }), response: { 204: Type.Null(), ...errors } } },
    async (req, reply) => {
      await ctx.imageRemotes.remove(req.params.name);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { name: string } }>(
    '/image-remotes/:name/images',
    { config: { access: { action: 'read', resource: 'image' } }, schema: { tags: ['image remotes'], summary: "The images an image remote serves (launch one as REMOTE:IMAGE)", params: Type.Object({ name: Name }), response: { 200: Type.Object({ images: Type.Array(ServedImage, { maxItems: 10000 }) }), ...errors } } },
    async (req) => ({ images: await ctx.imageRemotes.index(await ctx.imageRemotes.get(req.params.name)) }),
  );

  app.post<{ Params: { name: string; image: string } }>(
    '/image-remotes/:name/images/:image/fetch',
    { config: { access: { action: 'write', resource: 'host' } }, schema: { tags: ['image remotes'], summary: 'Fetch (or refresh) a remote image into the local cache as REMOTE:IMAGE; a launch of REMOTE:IMAGE does this by itself', params: Type.Object({ name: Name, image: Name }), response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await ctx.remoteImages.fetch(`${req.params.name}:${req.params.image}`)),
  );
}
