import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody } from '../shared/api-types.js';
import { UsageReport } from '../shared/trail-types.js';
import { reportCsv, type UsageService } from '../core/metering/usage-service.js';
import { projectOf } from './request-project.js';
import { PAGED, PageQuery } from './paging.js';
import { paginate } from '../core/paging.js';

const UsageQuery = Type.Object(
  {
    month: Type.Optional(Type.String({ pattern: '^[0-9]{4}-(0[1-9]|1[0-2])$', description: 'YYYY-MM (UTC; default: this month)' })),
    format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')], { description: 'json (default) or csv (text/csv: every instance, no paging)' })),
    ...PageQuery.properties,
  },
  { additionalProperties: false },
);

/** GET /api/v1/usage: metered usage of the request's project in one month. */
export async function usageRoutes(app: FastifyInstance, usage: () => UsageService) {
  app.get<{ Querystring: { month?: string; format?: 'json' | 'csv'; limit?: number; after?: string } }>(
    '/usage',
    {
      config: { access: { action: 'read', resource: 'usage' } },
      schema: {
        tags: ['usage'],
        summary: `The project's usage in a month: instance-hours by plan, disk GB-hours, transfer in and out, per instance and summed over all of them; instances by name,${PAGED}`,
        querystring: UsageQuery,
        response: { 200: Type.Composite([UsageReport, Type.Object({ next: Type.Optional(Type.String({ description: 'cursor of the next page of instances (pass it as "after")' })) })]), 400: ErrorBody },
      },
    },
    async (req, reply) => {
      const month = req.query.month ?? new Date().toISOString().slice(0, 7);
      const report = await usage().report(projectOf(req), month);
      if (req.query.format !== 'csv') {
        // Totals always cover every instance; only the rows are paged.
        const page = paginate(report.instances, { key: (r) => `${r.name}|${r.instance}` }, req.query.limit, req.query.after);
        return { ...report, instances: page.items, ...(page.next ? { next: page.next } : {}) };
      }
      // Sent as a string: the JSON response schema does not apply to text.
      return reply
        .type('text/csv; charset=utf-8')
        .header('Content-Disposition', `attachment; filename="usage-${report.project}-${month}.csv"`)
        .serializer((p: unknown) => p as string)
        .send(reportCsv(report));
    },
  );
}
