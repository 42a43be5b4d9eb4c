import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody } from '../shared/api-types.js';
import { Delivery, Webhook, WebhookCreate } from '../shared/trail-types.js';
import type { WebhookService } from '../core/webhooks/webhook-service.js';
import { projectOf } from './request-project.js';

const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) });
const read = { access: { action: 'read', resource: 'webhook' } } as const;
const write = { access: { action: 'write', resource: 'webhook' } } as const;

/** /api/v1/webhooks: a project's webhooks and their delivery logs. */
export async function webhookRoutes(app: FastifyInstance, hooks: () => WebhookService) {
  app.get('/webhooks', { config: read, schema: { tags: ['webhooks'], summary: "List the project's webhooks (secrets are never shown again)", response: { 200: Type.Object({ webhooks: Type.Array(Webhook) }) } } }, async (req) => ({
    webhooks: await hooks().list(projectOf(req)),
  }));

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

  app.get<{ Params: { id: string } }>(
    '/webhooks/:id/deliveries',
    { config: read, schema: { tags: ['webhooks'], summary: 'The delivery log of a webhook, newest first (the last 50)', params: IdParams, response: { 200: Type.Object({ deliveries: Type.Array(Delivery) }), 404: ErrorBody } } },
    async (req) => ({ deliveries: await hooks().deliveries(projectOf(req), req.params.id) }),
  );
}
