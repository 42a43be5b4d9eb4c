import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody, Name } from '../shared/api-types.js';
import { Plan, PlanCreate, PlanPatch, Quota, QuotaLimits } from '../shared/plan-types.js';
import { NimboError } from '../lib/errors.js';
import type { ApiContext } from './context.js';
import { projectOf } from './request-project.js';
import { PAGED, PageQuery, byName, listPage, pageOfSchema, type PageParams } from './paging.js';

const errors = { 400: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const N = Type.Object({ name: Name });
const tags = ['plans'];
const read = { access: { action: 'read', resource: 'plan' } } as const;
const write = { access: { action: 'write', resource: 'plan' } } as const;

/** /api/v1/plans (everyone reads; operators and admins change) and /api/v1/quota (the request's project). */
export async function planRoutes(app: FastifyInstance, ctx: ApiContext) {
  app.get<{ Querystring: PageParams }>('/plans', { config: read, schema: { tags, summary: `List plans${PAGED}`, querystring: PageQuery, response: { 200: pageOfSchema('plans', Plan), 400: ErrorBody } } }, async (req) =>
    listPage('plans', await ctx.plans.list(), byName, req.query, (p) => p),
  );
  app.get<{ Params: { name: string } }>('/plans/:name', { config: read, schema: { tags, summary: 'Show a plan', params: N, response: { 200: Plan, ...errors } } }, async (req) =>
    ctx.plans.show(req.params.name),
  );
  app.post<{ Body: PlanCreate }>('/plans', { config: write, schema: { tags, summary: 'Create a plan', body: PlanCreate, response: { 201: Plan, ...errors } } }, async (req, reply) =>
    reply.code(201).send(await ctx.plans.create(req.body)),
  );
  app.patch<{ Params: { name: string }; Body: PlanPatch }>(
    '/plans/:name',
    { config: write, schema: { tags, summary: 'Change a plan (instances launched with it keep what they got)', params: N, body: PlanPatch, response: { 200: Plan, ...errors } } },
    async (req) => ctx.plans.update(req.params.name, req.body),
  );
  app.delete<{ Params: { name: string } }>('/plans/:name', { config: write, schema: { tags, summary: 'Delete a plan no instance uses', params: N, response: { 204: Type.Null(), ...errors } } }, async (req, reply) => {
    await ctx.plans.delete(req.params.name);
    return reply.code(204).send();
  });

  const qtags = ['quotas'];
  app.get('/quota', { config: { access: { action: 'read', resource: 'quota' } }, schema: { tags: qtags, summary: "The request's project's quota and usage", response: { 200: Quota, ...errors } } }, async (req) =>
    ctx.quotas.show(projectOf(req)),
  );
  app.put<{ Body: QuotaLimits }>(
    '/quota',
    { config: { access: { action: 'write', resource: 'quota' } }, schema: { tags: qtags, summary: "Set the request's project's limits (admins only; null = unlimited)", body: QuotaLimits, response: { 200: Quota, ...errors } } },
    async (req) => {
      // A project's owner may write inside the project, but never its own quota: only a platform admin sets it.
      if (req.principal && req.principal.platformRole !== 'admin') throw new NimboError('Forbidden', 'only a platform admin sets a project quota');
      return ctx.quotas.set(projectOf(req), req.body as never);
    },
  );
}
