// Authentication, decided in one place from the route the router matched, never from how the
// request's URL was spelled: a route is public only when it declares `config: { public: true }`;
// every other route, every unmatched path and every WebSocket upgrade needs a valid credential.
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { verifyToken } from '../core/auth.js';
import type { Principal } from '../core/identity/principal.js';
import type { Access } from '../core/authz/access.js';
import type { Store } from '../store/store.js';
import { ErrorBody } from '../shared/api-types.js';

/** What a route declares about its access (`config` of a Fastify route). */
export interface RouteAccess {
  /** Reachable without a credential (deny by default: absent means a credential is needed). */
  public?: boolean;
  /** Set by nimbo for WebSocket routes: the only ones that may carry `?ticket=` (api/ws-ticket-auth.ts). */
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
export type Credential = { token: string } | { status: 400 | 401; message: string };

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * The bearer token of a request, from the Authorization header only. A token is never taken from the URL
 * (URLs end up in logs and history): a WebSocket client that cannot set headers (a browser) opens the
 * upgrade with a single-use `?ticket=` instead, redeemed before this (api/ws-ticket-auth.ts). Pure.
 */
export function findCredential(authorization: string | undefined, query: unknown, websocket: boolean): Credential {
  const q = query && typeof query === 'object' ? (query as Record<string, unknown>) : {};
  if (q.token !== undefined) return { status: 401, message: 'tokens are not accepted in URLs: send an Authorization: Bearer header (a WebSocket client that cannot may pass ?ticket= from POST /api/v1/auth/ticket)' };
  if (authorization !== undefined) {
    const m = BEARER.exec(authorization);
    if (!m) return { status: 401, message: 'the Authorization header must be "Bearer TOKEN"' };
    return { token: m[1]! };
  }
  if (q.ticket !== undefined) return { status: 401, message: websocket ? 'the ticket is unknown, used or expired: get a new one from POST /api/v1/auth/ticket' : 'a ticket is accepted only on a WebSocket upgrade; send an Authorization: Bearer header' };
  return { status: 401, message: 'missing bearer token' };
}

/** Whether a matched route is public: it must be a real route (not the not-found handler) that says so. */
export function isPublicRoute(url: string | undefined, config: RouteAccess | undefined): boolean {
  return url !== undefined && config?.public === true;
}

/**
 * Install authentication on `app` before any route is registered: routes learn their access
 * (public ones are marked `security: []` in OpenAPI, WebSocket ones are flagged), and every request
 * is checked on its matched route before anything else runs.
 */
export function installAuthentication(app: FastifyInstance, store: () => Store): void {
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
    if (req.principal) return; // proved before this hook, by a WebSocket ticket (ws-ticket-auth.ts)
    const upgrade = (req as FastifyRequest & { ws?: boolean }).ws === true && config?.websocket === true;
    const cred = findCredential(req.headers.authorization, req.query, upgrade);
    if ('status' in cred) return refuse(reply, cred.status, cred.message);
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
