import type { FastifyInstance } from 'fastify';
import { ErrorBody } from '../shared/api-types.js';
import { AuditPage, AuditQuery } from '../shared/trail-types.js';
import type { AuditLog } from '../core/audit/audit-log.js';
import { invalid } from '../lib/errors.js';

/** GET /api/v1/audit: the audit log, newest first, a page at a time (platform resource `audit`). */
export async function auditRoutes(app: FastifyInstance, audit: () => AuditLog) {
  app.get<{ Querystring: AuditQuery }>(
    '/audit',
    {
      config: { access: { action: 'read', resource: 'audit' } },
      schema: {
        tags: ['audit'],
        summary: 'List audit entries (mutating calls and logins), newest first; pass "next" as "after" for older ones',
        querystring: AuditQuery,
        response: { 200: AuditPage, 400: ErrorBody },
      },
    },
    async (req) => {
      const q = req.query;
      if (q.since && q.until && Date.parse(q.since) >= Date.parse(q.until)) throw invalid('since must be before until');
      return audit().query(q);
    },
  );
}
