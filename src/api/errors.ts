import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { asNimboError, type ErrorCode } from '../lib/errors.js';
import { NAME_PATTERN } from '../shared/api-types.js';

const STATUS: Record<ErrorCode, number> = {
  NotFound: 404,
  Conflict: 409,
  InvalidArgument: 400,
  QuotaExceeded: 403,
  TooLarge: 413,
  LengthRequired: 411,
  Forbidden: 403,
  Unauthorized: 401,
  HostCommandFailed: 500,
  Timeout: 504,
  Cancelled: 409,
  Internal: 500,
};

/** The HTTP status for a nimbo error code (the only place this mapping lives). */
export function httpStatus(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Turn a schema validation failure into one clear sentence. */
export function validationMessage(errors: AjvError[], context: string): string {
  const e = errors[0];
  if (!e) return 'invalid request';
  const field = e.instancePath.replace(/^\//, '').replace(/\//g, '.') || context;
  if (e.keyword === 'additionalProperties') return `unknown field ${JSON.stringify(e.params.additionalProperty)} in ${context}`;
  if (e.keyword === 'required') return `missing field ${JSON.stringify(e.params.missingProperty)} in ${context}`;
  if (e.keyword === 'pattern' && e.params.pattern === NAME_PATTERN) {
    return `${field} is not valid: use 1-63 lower-case letters, digits and '-', starting with a letter and not ending with '-'`;
  }
  if (e.keyword === 'pattern' || e.keyword === 'anyOf') return `${field} is not valid: ${e.message ?? 'bad format'}`;
  return `${field} ${e.message ?? 'is invalid'}`;
}

/** Fastify error handler: every error becomes {error: {code, message}} with a status chosen here. */
export function errorHandler(err: FastifyError & { validation?: AjvError[]; validationContext?: string }, req: FastifyRequest, reply: FastifyReply) {
  if (err.validation) {
    return reply.code(400).send({ error: { code: 'InvalidArgument', message: validationMessage(err.validation, err.validationContext ?? 'request') } });
  }
  if (err.statusCode && err.statusCode < 500 && !(err as { code?: string }).code?.match(/^[A-Z][a-z]/)) {
    return reply.code(err.statusCode).send({ error: { code: 'InvalidArgument', message: err.message } });
  }
  const ne = asNimboError(err);
  const status = httpStatus(ne.code);
  if (status >= 500) req.log.error({ err: ne.message, detail: ne.detail }, 'request failed');
  return reply.code(status).send({ error: { code: ne.code, message: ne.message, ...(ne.detail && ne.code === 'HostCommandFailed' ? { detail: ne.detail } : {}) } });
}
