// Operations and events are filtered item by item (core/authz/policy.ts mayUseItem): a principal sees those
// of the request's project that its role may read, and platform-level ones only as an admin or operator.
import type { FastifyRequest } from 'fastify';
import type { Action } from '../core/authz/access.js';
import { mayUseItem } from '../core/authz/policy.js';
import { notFound } from '../lib/errors.js';
import type { Operation } from '../shared/api-types.js';
import { projectOf } from './request-project.js';

/** Whether the request may see (read) or act on (write) an operation or event that belongs to `itemProject`. */
export function mayUse(req: FastifyRequest, resource: 'operation' | 'event', itemProject: string | undefined, action: Action = 'read'): boolean {
  return req.principal !== undefined && mayUseItem(req.principal, { action, resource }, itemProject, projectOf(req));
}

/**
 * The operation when the request may use it; else 404, the same answer as for one that does not exist.
 * By id, an operation is looked at in its own project (a Location header carries no ?project=).
 */
export function usableOperation(req: FastifyRequest, op: Operation, action: Action = 'read'): Operation {
  const ok = req.principal !== undefined && mayUseItem(req.principal, { action, resource: 'operation' }, op.project, op.project ?? projectOf(req));
  if (!ok) throw notFound(`operation ${op.id}`);
  return op;
}
