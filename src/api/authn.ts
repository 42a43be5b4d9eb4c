// Authentication, decided in one place from the route the router matched, never from how the
// request's URL was spelled: a route is public only when it declares `config: { public: true }`;
// every other route, every unmatched path and every WebSocket upgrade needs a valid credential.
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { verifyToken } from '../core/auth.js';
import type { Principal } from '../core/identity/principal.js';
import type { Access } from '../core/authz/access.js';
import type { Store } from '../store/store.js';
import type { WsTickets } from '../core/authz/ws-tickets.js';
import { ErrorBody } from '../shared/api-types.js';

/** What a route declares about its access (`config` of a Fastify route). */
export interface RouteAccess {
  /** Reachable without a credential (deny by default: absent means a credential is needed). */
  public?: boolean;
  /** Set by nimbo for WebSocket routes: the only ones that may carry `?ticket=`. */
  websocket?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who made the request, set by the authentication hook (absent on public routes). */
    principal?: Principal;
    /** The project a project-scoped request runs in, set by the authorization hook. */
    project?: string;
  }
  interface FastifyContextConfig {
    public?: boolean;
    websocket?: boolean;
    /** The action and resource the route needs (core/authz/access.ts); a route without one is refused. */
    access?: Access;
  }
}

/** A credential found in a request, or why the request must be refused. */
export type Credential = { token: string } | { ticket: string } | { status: 400 | 401; message: string };

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * The credential of a request. The Authorization header always counts. A token is never taken from the
 * URL (URLs end up in logs and history); a WebSocket upgrade to a WebSocket route, where browsers cannot
 * set headers, may carry a single-use `?ticket=` from POST /api/v1/auth/ticket instead. Pure.
 */
export function findCredential(authorization: string | undefined, query: unknown, websocket: boolean): Credential {
  const q = query && typeof query === 'object' ? (query as Record<string, unknown>) : {};
  if (q.token !== undefined) return { status: 401, message: 'tokens are not accepted in URLs: send an Authorization: Bearer header (a WebSocket client that cannot may pass ?ticket= from POST /api/v1/auth/ticket)' };
  if (Array.isArray(q.ticket)) return { status: 400, message: 'the ticket parameter was given more than once' };
  if (authorization !== undefined) {
    const m = BEARER.exec(authorization);
    if (!m) return { status: 401, message: 'the Authorization header must be "Bearer TOKEN"' };
    return { token: m[1]! };
  }
  if (typeof q.ticket === 'string') {
    if (!websocket) return { status: 401, message: 'a ticket is accepted only on a WebSocket upgrade; send an Authorization: Bearer header' };
    return { ticket: q.ticket };
  }
  return { status: 401, message: 'missing bearer token' };
}

/** Whether a matched route is public: it must be a real route (not the not-found handler) that says so. */
export function isPublicRoute(url: string | undefined, config: RouteAccess | undefined): boolean {
  return url !== undefined && config?.public === true;
}

/** What authentication needs besides the store. */
export interface AuthenticationOptions {
  /** Redeems `?ticket=` on WebSocket upgrades (without it, tickets are refused). */
  tickets?: WsTickets;
  /** Tests only: decides the principal instead of the credential checks (undefined: 401). */
  authenticate?: (req: FastifyRequest) => Principal | undefined;
}

/**
 * Install authentication on `app` before any route is registered: routes learn their access
 * (public ones are marked `security: []` in OpenAPI, WebSocket ones are flagged), and every request
 * is checked on its matched route before anything else runs.
 */
export function installAuthentication(app: FastifyInstance, store: () => Store, opts: AuthenticationOptions = {}): void {
  app.decorateRequest('principal', undefined);
  app.addHook('onRoute', (route: RouteOptions) => {
    const config = (route.config ?? {}) as RouteAccess;
    if (config.public === true) route.schema = { ...route.schema, security: [] };
    else route.schema = { ...route.schema, response: { ...(route.schema?.response as object | undefined), 400: ErrorBody, 401: ErrorBody } };
    if (route.websocket) route.config = { ...config, websocket: true } as RouteOptions['config'];
  });
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const config = req.routeOptions.config as RouteAccess | undefined;
    if (isPublicRoute(req.routeOptions.url, config)) return;
    if (opts.authenticate) {
      req.principal = opts.authenticate(req);
      return req.principal ? undefined : refuse(reply, 401, 'not authenticated');
    }
    const upgrade = (req as FastifyRequest & { ws?: boolean }).ws === true && config?.websocket === true;
    const cred = findCredential(req.headers.authorization, req.query, upgrade);
    if ('status' in cred) return refuse(reply, cred.status, cred.message);
    if ('ticket' in cred) {
      req.principal = opts.tickets?.redeem(cred.ticket);
      if (!req.principal) return refuse(reply, 401, 'the ticket is unknown, used or expired: get a new one from POST /api/v1/auth/ticket');
      // Spent: the route's own query schema never sees it.
      delete (req.query as Record<string, unknown>).ticket;
      return;
    }
    const token = await verifyToken(store(), cred.token);
    if (!token) return refuse(reply, 401, 'invalid bearer token');
    // Until users exist, the one admin token stands for the platform admin.
    req.principal = { userId: 'admin', userName: 'admin', via: 'token', platformRole: 'admin', projects: {}, token: { id: token.id, access: 'write' } };
  });
}

function refuse(reply: FastifyReply, status: 400 | 401, message: string) {
  if (status === 401) reply.header('WWW-Authenticate', 'Bearer realm="nimbo"');
  return reply.code(status).send({ error: { code: status === 400 ? 'InvalidArgument' : 'Unauthorized', message } });
}
