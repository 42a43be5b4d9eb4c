import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody, Name } from '../shared/api-types.js';
import { SecurityGroup, SecurityGroupCreate, SecurityRule } from '../shared/network-types.js';
import type { ApiContext } from './context.js';
import { PAGED, PageQuery, byName, listPage, pageOfSchema, type PageParams } from './paging.js';
import { projectOf } from './request-project.js';

const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const G = Type.Object({ name: Name });
const tags = ['firewall'];
const Attach = Type.Object({ instance: Name, nic: Type.Optional(Type.String({ pattern: '^eth[0-9]{1,2}$' })) }, { additionalProperties: false });

/** /api/v1/security-groups: groups, their rules, and attaching them to instance NICs (all live). */
export async function firewallRoutes(app: FastifyInstance, ctx: ApiContext) {
  const f = ctx.firewall;
  app.get<{ Querystring: PageParams }>('/security-groups', { config: { access: { action: 'read', resource: 'secgroup' } }, schema: { tags, summary: `List security groups${PAGED}`, querystring: PageQuery, response: { 200: pageOfSchema('securityGroups', SecurityGroup), 400: ErrorBody } } }, async (req) =>
    listPage('securityGroups', await f.list(projectOf(req)), byName, req.query, (g) => g),
  );
  app.post<{ Body: SecurityGroupCreate }>('/security-groups', { config: { access: { action: 'write', resource: 'secgroup' } }, schema: { tags, summary: 'Create a security group', body: SecurityGroupCreate, response: { 201: SecurityGroup, ...errors } } }, async (req, reply) =>
    reply.code(201).send(await f.create(projectOf(req), req.body)),
  );
  app.get<{ Params: { name: string } }>('/security-groups/:name', { config: { access: { action: 'read', resource: 'secgroup' } }, schema: { tags, summary: 'Show a security group', params: G, response: { 200: SecurityGroup, ...errors } } }, async (req) =>
    f.view(projectOf(req), req.params.name),
  );
  app.delete<{ Params: { name: string } }>('/security-groups/:name', { config: { access: { action: 'write', resource: 'secgroup' } }, schema: { tags, summary: 'Delete an unused security group', params: G, response: { 204: Type.Null(), ...errors } } }, async (req, reply) => {
    await f.delete(projectOf(req), req.params.name);
    return reply.code(204).send();
  });
  app.post<{ Params: { name: string }; Body: { rules: SecurityRule[] } }>(
    '/security-groups/:name/rules',
    { config: { access: { action: 'write', resource: 'secgroup' } }, schema: { tags, summary: 'Add rules (applied at once to every NIC with the group)', params: G, body: Type.Object({ rules: Type.Array(SecurityRule, { minItems: 1, maxItems: 10000 }) }, { additionalProperties: false }), response: { 200: SecurityGroup, ...errors } } },
    async (req) => f.addRules(projectOf(req), req.params.name, req.body.rules),
  );
  app.delete<{ Params: { name: string; id: string } }>(
    '/security-groups/:name/rules/:id',
    { config: { access: { action: 'write', resource: 'secgroup' } }, schema: { tags, summary: 'Delete a rule (established connections go on)', params: Type.Object({ name: Name, id: Type.String({ maxLength: 64 }) }), response: { 200: SecurityGroup, ...errors } } },
    async (req) => f.deleteRule(projectOf(req), req.params.name, req.params.id),
  );
  for (const [path, on] of [['attach', true], ['detach', false]] as const) {
    app.post<{ Params: { name: string }; Body: { instance: string; nic?: string } }>(
      `/security-groups/:name/${path}`,
      { config: { access: { action: 'write', resource: 'secgroup' } }, schema: { tags, summary: `${on ? 'Attach the group to' : 'Detach the group from'} an instance's NICs (all, or one)`, params: G, body: Attach, response: { 200: SecurityGroup, ...errors } } },
      async (req) => f.setAttached(projectOf(req), req.params.name, req.body.instance, req.body.nic, on),
    );
  }
}
