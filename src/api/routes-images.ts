import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody, Image, ImageBuild, ImageImport, ImagePublish, ImageSnapshot, Name, Operation } from '../shared/api-types.js';
import { ImageRef } from '../shared/image-fetch-types.js';
import { projectOf } from './request-project.js';
import { accepted, type ApiContext } from './context.js';
import { PAGED, PageQuery, listPage, pageOfSchema, type PageParams } from './paging.js';

const Accepted = Type.Object({ operation: Operation });
const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };

/** /api/v1/images routes. */
export async function imageRoutes(app: FastifyInstance, ctx: ApiContext) {
  app.get<{ Querystring: PageParams }>('/images', { config: { access: { action: 'read', resource: 'image' } }, schema: { tags: ['images'], summary: `List the public images and the project's private ones, by name,${PAGED}`, querystring: PageQuery, response: { 200: pageOfSchema('images', Image), 400: ErrorBody } } }, async (req) => {
    const all = [
      ...(await ctx.images.list()).map((r) => ctx.images.view(r)),
      ...(await ctx.privateImages.list(projectOf(req))).map((r) => ctx.images.view(r, 'private')),
    ];
    // A private image and a public one may share a name: the page key tells them apart.
    return listPage('images', all, { key: (i: Image) => `${i.name}|${i.visibility}` }, req.query, (i) => i);
  });

  app.get<{ Params: { name: string } }>(
    '/images/:name',
    { config: { access: { action: 'read', resource: 'image' } }, schema: { tags: ['images'], summary: "Show one image: the project's private one of that name, else the public one (REMOTE:NAME: a cached image of an image remote)", params: Type.Object({ name: ImageRef }), response: { 200: Image, ...errors } } },
    async (req) => {
      const p = projectOf(req);
      const own = await ctx.privateImages.get(p, req.params.name).catch(() => undefined);
      return own ? ctx.images.view(own, 'private') : ctx.images.view(await ctx.images.get(req.params.name));
    },
  );

  app.post<{ Params: { name: string }; Body: ImagePublish }>(
    '/instances/:name/publish',
    { config: { access: { action: 'write', resource: 'image' } }, schema: { tags: ['images'], summary: "Make a private image of the project from a stopped VM's root disk (flattened; the VM stays locked while it is copied)", params: Type.Object({ name: Name }), body: ImagePublish, response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await ctx.privateImages.publish(projectOf(req), req.params.name, req.body.image)),
  );

  app.post<{ Body: ImageSnapshot }>(
    '/images/snapshot',
    { config: { access: { action: 'write', resource: 'image' } }, schema: { tags: ['images'], summary: "Save a running VM of the project (memory and device state plus its disk, at one instant; it keeps running) as a private template image: launches from it restore the booted guest, then get their own identity through the guest agent", body: ImageSnapshot, response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await ctx.privateImages.snapshot(projectOf(req), req.body.fromRunning, req.body.name)),
  );

  app.delete<{ Params: { name: string } }>(
    '/images/private/:name',
    { config: { access: { action: 'write', resource: 'image' } }, schema: { tags: ['images'], summary: "Delete one of the project's private images (refused while an instance uses it)", params: Type.Object({ name: Name }), response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await ctx.privateImages.remove(projectOf(req), req.params.name)),
  );

  app.post<{ Body: ImageImport }>(
    '/images/import',
    { config: { access: { action: 'write', resource: 'host' } }, schema: { tags: ['images'], summary: "Import a qcow2 or raw disk image, or an ISO 9660 image (known by its content; an image of type iso), from a file on the daemon's host", body: ImageImport, response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await ctx.images.import(req.body.name, req.body.path, req.body.arch)),
  );

  app.delete<{ Params: { name: string } }>(
    '/images/:name',
    { config: { access: { action: 'write', resource: 'host' } }, schema: { tags: ['images'], summary: 'Delete a public image (admin or operator); REMOTE:NAME deletes the cached copy of a remote image', params: Type.Object({ name: ImageRef }), response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await ctx.images.remove(req.params.name)),
  );
}
