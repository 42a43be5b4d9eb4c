// Records every mutating call (any method but GET, HEAD and OPTIONS) and every login attempt in the
// audit log, after the answer is sent. Request bodies are never recorded: only the route pattern, its
// path parameters, and for a login the user name tried (never the password).
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditEntry } from '../core/audit/audit-entry.js';
import { LOGIN_ROUTE } from './rate-limit-login.js';
import { RateLimiter } from './rate-limit.js';

/** Where the hook writes (core/audit/audit-log.ts's AuditLog). */
export interface AuditSink {
  append(e: Omit<AuditEntry, 'id' | 'time'>): unknown;
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const SECRET_NAME = /pass|secret|token|key/i;

declare module 'fastify' {
  interface FastifyRequest {
    /** The error code of the answer, kept by the audit hook for its record. */
    auditError?: string;
  }
}

/** The user name a login request tried (first of the usual field names), at most 64 characters. */
export function loginNameOf(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as Record<string, unknown>;
  const v = [b.name, b.user, b.username, b.userName].find((x) => typeof x === 'string') as string | undefined;
  return v?.slice(0, 64);
}

/** The audit record of one answered request (pure but for the request's fields); undefined when it is not audited. */
export function auditRecordOf(req: FastifyRequest, status: number, ms: number): Omit<AuditEntry, 'id' | 'time'> | undefined {
  const route = req.routeOptions.url;
  const login = route === LOGIN_ROUTE;
  if (READ_METHODS.has(req.method) && !login) return undefined;
  const p = req.principal;
  const access = req.routeOptions.config?.access;
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries((req.params ?? {}) as Record<string, unknown>)) {
    if (typeof v === 'string' && !SECRET_NAME.test(k)) params[k] = v.slice(0, 200);
  }
  const loginName = login ? loginNameOf(req.body) : undefined;
  const user = p?.userName ?? (login && status < 400 && loginName ? loginName : 'anonymous');
  return {
    user,
    ...(p ? { userId: p.userId, via: p.via } : {}),
    ...(p?.token ? { tokenId: p.token.id } : {}),
    ...(p?.sessionId ? { session: createHash('sha256').update(p.sessionId).digest('hex').slice(0, 16) } : {}),
    method: req.method,
    route: route ?? '(unmatched)',
    ...(Object.keys(params).length ? { params } : {}),
    action: login ? 'login' : access ? `${access.action} ${access.resource}` : req.method.toLowerCase(),
    ...(req.project ? { project: req.project } : {}),
    ...(loginName !== undefined ? { loginName } : {}),
    source: req.ip,
    status,
    ...(req.auditError ? { error: req.auditError } : {}),
    ms: Math.round(ms),
  };
}

/**
 * Install the audit hooks on `app` (before the routes are registered). Calls without a valid credential
 * are recorded up to 60 a minute per source address (burst 60): beyond that a flood would only fill the
 * disk, so the excess is counted in the daemon log instead. Answers of the rate limiter (429) are not recorded.
 */
export function installAuditHook(app: FastifyInstance, sink: AuditSink, now: () => number = Date.now): void {
  const anonymous = new RateLimiter({ burst: 60, perSecond: 1 }, now);
  let dropped = 0;
  let droppedSince = now();
  app.decorateRequest('auditError', undefined);
  app.addHook('onSend', async (req, reply, payload) => {
    // The error code lives in the body of a refusal: read it while it passes by (bodies are small JSON).
    if (reply.statusCode >= 400 && typeof payload === 'string' && payload.length < 65536 && payload.startsWith('{')) {
      try {
        const code = (JSON.parse(payload) as { error?: { code?: unknown } }).error?.code;
        if (typeof code === 'string') req.auditError = code.slice(0, 64);
      } catch {
        /* not JSON: no code */
      }
    }
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    const rec = auditRecordOf(req, reply.statusCode, reply.elapsedTime);
    if (!rec || rec.error === 'RateLimited') return;
    if (!req.principal && !anonymous.take(rec.source).allowed) {
      dropped++;
      if (now() - droppedSince >= 60_000) {
        req.log.warn({ dropped }, 'audit: calls without a valid credential over 60 a minute from one address were not recorded');
        dropped = 0;
        droppedSince = now();
      }
      return;
    }
    try {
      sink.append(rec);
    } catch (e) {
      req.log.error({ err: e }, 'audit: could not record a request');
    }
  });
}
