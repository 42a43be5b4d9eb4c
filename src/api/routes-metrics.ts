// Metrics: the Prometheus exposition at GET /metrics (top level, beside /api/v1; a bearer token of an admin or
// operator, like every route) and the history behind the panel's graphs under /api/v1.
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody, Name } from '../shared/api-types.js';
import { HostMetrics, InstanceMetrics, MetricsQuery } from '../shared/metrics-types.js';
import { EXPOSITION_CONTENT_TYPE } from '../core/metrics/exposition.js';
import type { ApiContext } from './context.js';
import { projectOf } from './request-project.js';

/** GET /metrics, registered on the root app (not under /api/v1). */
export async function metricsExpositionRoute(app: FastifyInstance, ctx: ApiContext) {
  app.get(
    '/metrics',
    {
      config: { access: { action: 'read', resource: 'metrics' } },
      schema: {
        tags: ['host'],
        summary: 'Prometheus text exposition (text/plain; version=0.0.4) of the host, every instance and the operations',
        description: 'Rendered from the latest 10-s sample, with no I/O. For admins and operators; Prometheus sends a bearer token (authorization.credentials_file).',
      },
    },
    async (_req, reply) => reply.header('Cache-Control', 'no-store').type(EXPOSITION_CONTENT_TYPE).send(ctx.metrics.exposition()),
  );
}

/** GET /api/v1/instances/{name}/metrics and /api/v1/host/metrics. */
export async function metricsHistoryRoutes(app: FastifyInstance, ctx: ApiContext) {
  app.get<{ Params: { name: string }; Querystring: MetricsQuery }>(
    '/instances/:name/metrics',
    {
      config: { access: { action: 'read', resource: 'instance' } },
      schema: {
        tags: ['instances'],
        summary: 'History of one instance for graphs: CPU (cores), memory, disk and network rates',
        description: '1h, 6h and 24h at 10-s steps, 7d and 30d at 5-min steps (averages of the 10-s points); null where nothing was sampled.',
        params: Type.Object({ name: Name }),
        querystring: MetricsQuery,
        response: { 200: InstanceMetrics, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => ctx.metrics.instance((await ctx.instances.record(projectOf(req), req.params.name)).uuid, req.query.range ?? '1h'),
  );
  app.get<{ Querystring: MetricsQuery }>(
    '/host/metrics',
    {
      config: { access: { action: 'read', resource: 'host' } },
      schema: { tags: ['host'], summary: 'History of the host for graphs: CPU busy (cores), memory, load', querystring: MetricsQuery, response: { 200: HostMetrics, 400: ErrorBody } },
    },
    async (req) => ctx.metrics.host(req.query.range ?? '1h'),
  );
}
