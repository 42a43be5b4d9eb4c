import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody } from '../shared/api-types.js';
import { Delivery, Webhook, WebhookCreate } from '../shared/trail-types.js';
import type { WebhookService } from '../core/webhooks/webhook-service.js';
import { projectOf } from './request-project.js';
import { PAGED, PageQuery, listPage, pageOfSchema, type PageParams } from './paging.js';

const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) });
const read = { access: { action: 'read', resource: 'webhook' } } as const;
const write = { access: { action: 'write', resource: 'webhook' } } as const;

/** /api/v1/webhooks: a project's webhooks and their delivery logs. */
export async function webhookRoutes(app: FastifyInstance, hooks: () => WebhookService) {
  app.get<{ Querystring: PageParams }>(
    '/webhooks',
    { config: read, schema: { tags: ['webhooks'], summary: `List the project's webhooks, oldest first (secrets are never shown again),${PAGED}`, querystring: PageQuery, response: { 200: pageOfSchema('webhooks', Webhook), 400: ErrorBody } } },
    async (req) => listPage('webhooks', await hooks().list(projectOf(req)), { key: (w) => `${w.createdAt}|${w.id}` }, req.query, (w) => w),
  );

  app.post<{ Body: WebhookCreate }>(
    '/webhooks',
    {
      config: write,
      schema: {
        tags: ['webhooks'],
        summary: 'Create a webhook; the answer holds its signing secret, shown only this once',
        body: WebhookCreate,
        response: { 201: Webhook, 400: ErrorBody, 403: ErrorBody },
      },
    },
    async (req, reply) => reply.code(201).send(await hooks().create(projectOf(req), req.body)),
  );

  app.get<{ Params: { id: string } }>(
    '/webhooks/:id',
    { config: read, schema: { tags: ['webhooks'], summary: 'Show one webhook', params: IdParams, response: { 200: Webhook, 404: ErrorBody } } },
    async (req) => hooks().get(projectOf(req), req.params.id),
  );

  app.delete<{ Params: { id: string } }>(
    '/webhooks/:id',
    { config: write, schema: { tags: ['webhooks'], summary: 'Delete a webhook and its delivery log', params: IdParams, response: { 204: Type.Null(), 404: ErrorBody } } },
    async (req, reply) => {
      await hooks().delete(projectOf(req), req.params.id);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { id: string }; Querystring: PageParams }>(
    '/webhooks/:id/deliveries',
    {
      config: read,
      schema: { tags: ['webhooks'], summary: `The delivery log of a webhook (the last 50), newest first,${PAGED}`, params: IdParams, querystring: PageQuery, response: { 200: pageOfSchema('deliveries', Delivery), 400: ErrorBody, 404: ErrorBody } },
    },
    async (req) => listPage('deliveries', await hooks().deliveries(projectOf(req), req.params.id), { key: (d) => `${d.createdAt}|${d.id}`, descending: true }, req.query, (d) => d),
  );
}
