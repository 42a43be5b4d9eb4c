import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody, Instance, Name, Operation } from '../shared/api-types.js';
import { Forward, ForwardCreate, Lease, Network, NetworkCreate, NicAttach, NicPatch } from '../shared/network-types.js';
import { accepted, type ApiContext } from './context.js';
import { PAGED, PageQuery, byName, listPage, pageOfSchema, type PageParams } from './paging.js';
import { projectOf } from './request-project.js';

/** Leases in address order: each IPv4 octet zero-padded so the string order is the numeric one. */
const byAddress = { key: (l: Lease) => `${l.ip.split('.').map((o) => o.padStart(3, '0')).join('.')}|${l.mac}` };

const Accepted = Type.Object({ operation: Operation });
const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const N = Type.Object({ name: Name });
const NicName = Type.String({ pattern: '^eth[0-9]{1,2}$' });
const tags = ['networks'];

/** /api/v1/networks (networks, leases, forwards) and /api/v1/instances/{name}/nics. */
export async function networkRoutes(app: FastifyInstance, ctx: ApiContext) {
  app.get<{ Querystring: PageParams }>('/networks', { config: { access: { action: 'read', resource: 'network' } }, schema: { tags, summary: `List networks${PAGED}`, querystring: PageQuery, response: { 200: pageOfSchema('networks', Network), 400: ErrorBody } } }, async (req) =>
    listPage('networks', await ctx.network.list(projectOf(req)), byName, req.query, (n) => n),
  );
  app.post<{ Body: NetworkCreate }>('/networks', { config: { access: { action: 'write', resource: 'network' } }, schema: { tags, summary: 'Create a network (bridge or vxlan; nat, routed or isolated)', body: NetworkCreate, response: { 202: Accepted, ...errors } } }, async (req, reply) =>
    accepted(reply, await ctx.network.create(projectOf(req), req.body)),
  );
  app.get<{ Params: { name: string } }>('/networks/:name', { config: { access: { action: 'read', resource: 'network' } }, schema: { tags, summary: 'Show a network', params: N, response: { 200: Network, ...errors } } }, async (req) =>
    ctx.network.view(projectOf(req), req.params.name),
  );
  app.delete<{ Params: { name: string } }>('/networks/:name', { config: { access: { action: 'write', resource: 'network' } }, schema: { tags, summary: 'Delete a network no instance uses', params: N, response: { 202: Accepted, ...errors } } }, async (req, reply) =>
    accepted(reply, await ctx.network.delete(projectOf(req), req.params.name)),
  );
  app.get<{ Params: { name: string }; Querystring: PageParams }>('/networks/:name/leases', { config: { access: { action: 'read', resource: 'network' } }, schema: { tags, summary: `Addresses allocated on a network, by address,${PAGED}`, params: N, querystring: PageQuery, response: { 200: pageOfSchema('leases', Lease), ...errors } } }, async (req) =>
    listPage('leases', await ctx.network.leases(projectOf(req), req.params.name), byAddress, req.query, (l) => l),
  );

  app.get<{ Params: { name: string }; Querystring: PageParams }>('/networks/:name/forwards', { config: { access: { action: 'read', resource: 'forward' } }, schema: { tags, summary: `Port forwards and floating IPs of a network${PAGED}`, params: N, querystring: PageQuery, response: { 200: pageOfSchema('forwards', Forward), ...errors } } }, async (req) =>
    listPage('forwards', await ctx.forwards.list(projectOf(req), req.params.name), { key: (f: Forward) => f.id }, req.query, (f) => f),
  );
  app.post<{ Params: { name: string }; Body: ForwardCreate }>(
    '/networks/:name/forwards',
    { config: { access: { action: 'write', resource: 'forward' } }, schema: { tags, summary: 'Forward a host address:port to an instance, or (no ports) map a floating IP to it; live', params: N, body: ForwardCreate, response: { 201: Forward, ...errors } } },
    async (req, reply) => reply.code(201).send(await ctx.forwards.create(projectOf(req), req.params.name, req.body)),
  );
  app.delete<{ Params: { name: string; id: string } }>(
    '/networks/:name/forwards/:id',
    { config: { access: { action: 'write', resource: 'forward' } }, schema: { tags, summary: 'Remove a port forward or floating IP; live', params: Type.Object({ name: Name, id: Type.String({ maxLength: 64 }) }), response: { 204: Type.Null(), ...errors } } },
    async (req, reply) => {
      await ctx.forwards.delete(projectOf(req), req.params.name, req.params.id);
      return reply.code(204).send();
    },
  );

  const itags = ['instances'];
  app.post<{ Params: { name: string }; Body: NicAttach }>(
    '/instances/:name/nics',
    { config: { access: { action: 'write', resource: 'instance' } }, schema: { tags: itags, summary: 'Add a NIC on a network (hot-plugged when the VM runs)', params: N, body: NicAttach, response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await ctx.instanceNics.attach(projectOf(req), req.params.name, req.body)),
  );
  app.patch<{ Params: { name: string; nic: string }; Body: NicPatch }>(
    '/instances/:name/nics/:nic',
    { config: { access: { action: 'write', resource: 'instance' } }, schema: { tags: itags, summary: "Change a NIC's security groups or bandwidth limits (live)", params: Type.Object({ name: Name, nic: NicName }), body: NicPatch, response: { 200: Instance, ...errors } } },
    async (req) => ctx.instanceNics.patch(projectOf(req), req.params.name, req.params.nic, req.body),
  );
  app.delete<{ Params: { name: string; nic: string } }>(
    '/instances/:name/nics/:nic',
    { config: { access: { action: 'write', resource: 'instance' } }, schema: { tags: itags, summary: 'Remove a NIC (unplugged live when hot-plugged)', params: Type.Object({ name: Name, nic: NicName }), response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await ctx.instanceNics.detach(projectOf(req), req.params.name, req.params.nic)),
  );
}
