// Authentication, decided in one place from the route the router matched, never from how the
// request's URL was spelled: a route is public only when it declares `config: { public: true }`;
// every other route, every unmatched path and every WebSocket upgrade needs a valid credential:
// a bearer token, or the session cookie of a login (whose writes must carry the session's X-CSRF-Token).
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { authenticateSession, authenticateToken } from '../core/auth.js';
import { NimboError } from '../lib/errors.js';
import { hasCookie, readCookie } from './cookies.js';
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
    /** With a session cookie: the session's CSRF token and expiry (whoami hands them to the panel). */
    session?: { csrf: string; expiresAt: Date };
  }
  interface FastifyContextConfig {
    public?: boolean;
    websocket?: boolean;
    /** The action and resource the route needs (core/authz/access.ts); a route without one is refused. */
    access?: Access;
    /** The path parameter that names the route's project (e.g. /projects/{name}/members), instead of ?project=. */
    projectParam?: string;
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
  app.decorateRequest('session', undefined);
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
    try {
      if (!('status' in cred)) {
        req.principal = await authenticateToken(store(), cred.token);
        return;
      }
      // No bearer token given at all: a login session's cookie may stand in for it.
      const bearerGiven = req.headers.authorization !== undefined || (req.query as Record<string, unknown> | undefined)?.token !== undefined;
      if (bearerGiven || !hasCookie(req.headers.cookie)) return refuse(reply, cred.status, cred.message);
      const cookie = readCookie(req.headers.cookie);
      if (!cookie) return refuse(reply, 401, 'the nimbo_session cookie is malformed or given twice: log in again');
      const auth = await authenticateSession(store(), cookie);
      const csrf = csrfProblem(req, auth.session.csrf);
      if (csrf) return refuse(reply, 403, csrf);
      req.principal = auth.principal;
      req.session = { csrf: auth.session.csrf, expiresAt: auth.expiresAt };
    } catch (e) {
      if (e instanceof NimboError && e.code === 'Unauthorized') return refuse(reply, 401, e.message);
      throw e;
    }
  });
}

/**
 * Why a cookie-authenticated request must be refused as a possible cross-site request, or undefined.
 * Anything but GET/HEAD must echo the session's CSRF token in X-CSRF-Token; a WebSocket upgrade (a GET
 * a foreign page can start, cookies included) must come from the daemon's own origin.
 */
export function csrfProblem(req: Pick<FastifyRequest, 'method' | 'headers'>, want: string): string | undefined {
  const upgrade = String(req.headers.upgrade ?? '').toLowerCase() === 'websocket';
  if (upgrade) {
    const origin = req.headers.origin;
    if (origin && !sameHost(origin, req.headers.host)) return `a WebSocket with a session cookie must come from this daemon's own origin, not ${origin.slice(0, 100)}`;
    return undefined;
  }
  if (req.method === 'GET' || req.method === 'HEAD') return undefined;
  const got = req.headers['x-csrf-token'];
  if (typeof got !== 'string' || got === '') return 'this request uses the session cookie, so it must carry the X-CSRF-Token header that the login returned';
  const a = Buffer.from(got);
  const b = Buffer.from(want);
  if (a.length !== b.length || !timingSafeEqual(a, b)) return 'the X-CSRF-Token header does not match this session (log in again to get a new one)';
  return undefined;
}

function sameHost(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

function refuse(reply: FastifyReply, status: 400 | 401 | 403, message: string) {
  if (status === 401) reply.header('WWW-Authenticate', 'Bearer realm="nimbo"');
  const code = status === 400 ? 'InvalidArgument' : status === 401 ? 'Unauthorized' : 'Forbidden';
  return reply.code(status).send({ error: { code, message } });
}
