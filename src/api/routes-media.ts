import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody, MediaInsert, Name, Operation } from '../shared/api-types.js';
import { projectOf } from './request-project.js';
import { accepted, type ApiContext } from './context.js';

const Accepted = Type.Object({ operation: Operation });
const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const tags = ['instances'];

/** /api/v1/instances/{name}/media: the ISO image in the CD-ROM drive of a VM launched with --iso. */
export async function mediaRoutes(app: FastifyInstance, ctx: ApiContext) {
  app.post<{ Params: { name: string }; Body: MediaInsert }>(
    '/instances/:name/media',
    { config: { access: { action: 'write', resource: 'instance' } }, schema: { tags, summary: "Put an ISO image in the VM's CD-ROM drive (live when it runs; kept for its next starts); VMs launched with --iso only", params: Type.Object({ name: Name }), body: MediaInsert, response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await ctx.media.insert(projectOf(req), req.params.name, req.body.image)),
  );
  app.delete<{ Params: { name: string } }>(
    '/instances/:name/media',
    { config: { access: { action: 'write', resource: 'instance' } }, schema: { tags, summary: "Eject the ISO image from the VM's CD-ROM drive (live when it runs, even if the guest locked the tray)", params: Type.Object({ name: Name }), response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await ctx.media.eject(projectOf(req), req.params.name)),
  );
}
