import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody, Image, ImageBuild, ImageImport, Name, Operation } from '../shared/api-types.js';
import { accepted, type ApiContext } from './context.js';
import { PAGED, PageQuery, byName, listPage, pageOfSchema, type PageParams } from './paging.js';

const Accepted = Type.Object({ operation: Operation });
const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };

/** /api/v1/images routes. */
export async function imageRoutes(app: FastifyInstance, ctx: ApiContext) {
  app.get<{ Querystring: PageParams }>('/images', { config: { access: { action: 'read', resource: 'image' } }, schema: { tags: ['images'], summary: `List images${PAGED}`, querystring: PageQuery, response: { 200: pageOfSchema('images', Image), 400: ErrorBody } } }, async (req) =>
    listPage('images', await ctx.images.list(), byName, req.query, (r) => ctx.images.view(r)),
  );

  app.get<{ Params: { name: string } }>(
    '/images/:name',
    { config: { access: { action: 'read', resource: 'image' } }, schema: { tags: ['images'], summary: 'Show one image', params: Type.Object({ name: Name }), response: { 200: Image, ...errors } } },
    async (req) => ctx.images.view(await ctx.images.get(req.params.name)),
  );

  app.post<{ Body: ImageBuild }>(
    '/images',
    { config: { access: { action: 'write', resource: 'host' } }, schema: { tags: ['images'], summary: 'Build a built-in image (tiny, debian-12); public images are the platform\'s (admin or operator)', body: ImageBuild, response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await ctx.images.build(req.body.name, req.body.builder ?? req.body.name)),
  );

  app.post<{ Body: ImageImport }>(
    '/images/import',
    { config: { access: { action: 'write', resource: 'host' } }, schema: { tags: ['images'], summary: "Import a qcow2 or raw disk image from a file on the daemon's host", body: ImageImport, response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await ctx.images.import(req.body.name, req.body.path)),
  );

  app.delete<{ Params: { name: string } }>(
    '/images/:name',
    { config: { access: { action: 'write', resource: 'host' } }, schema: { tags: ['images'], summary: 'Delete a public image (admin or operator)', params: Type.Object({ name: Name }), response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await ctx.images.remove(req.params.name)),
  );
}
