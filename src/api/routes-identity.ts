// /api/v1/auth (login, logout, whoami, own password) and /api/v1/tokens (the caller's API tokens).
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrorBody } from '../shared/api-types.js';
import { Login, LoginResult, PasswordChange, Token, TokenCreate, TokenCreated, Whoami } from '../shared/identity-types.js';
import { identityServices } from '../core/identity/services.js';
import { SESSION_ABSOLUTE_MS } from '../core/identity/sessions.js';
import { userView } from '../core/identity/records.js';
import type { Principal } from '../core/identity/principal.js';
import { NimboError, invalid } from '../lib/errors.js';
import { clearedCookie, panelMarkCookie, sessionCookie } from './cookies.js';
import type { ApiContext } from './context.js';
import { LoginThrottle } from './rate-limit-login.js';
import { tooManyRequests } from './rate-limit-hook.js';
import { PAGED, PageQuery, listPage, pageOfSchema, type PageParams } from './paging.js';

const byTokenAge = { key: (t: Token) => `${t.createdAt}|${t.id}` };

const TokenIdParams = Type.Object({ id: Type.String({ pattern: '^([0-9a-f]{16}|admin)$', description: 'token id' }) });

/** The request's principal (set by authentication on every non-public route). */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new NimboError('Unauthorized', 'not authenticated');
  return req.principal;
}

/** /api/v1/auth and /api/v1/tokens routes. */
export async function identityRoutes(app: FastifyInstance, ctx: ApiContext) {
  const id = () => identityServices(ctx.store);
  const brake = ctx.loginThrottle ?? new LoginThrottle();
  const self = async (req: FastifyRequest) => {
    const u = await id().users.record(principalOf(req).userName);
    if (!u) throw new NimboError('Unauthorized', `user ${principalOf(req).userName} no longer exists`);
    return u;
  };

  app.post<{ Body: Login }>(
    '/auth/login',
    {
      config: { public: true },
      schema: { tags: ['auth'], summary: 'Log in with a name and password: sets the session cookie, answers the CSRF token', body: Login, response: { 200: LoginResult, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 429: ErrorBody } },
    },
    async (req, reply) => {
      const svc = id();
      // The brake comes before the password is checked: a locked-out name or address learns nothing.
      const may = brake.check(req.body.name, req.ip);
      if (!may.allowed) return tooManyRequests(reply, may.retryAfterS, `too many failed logins: try again in ${may.retryAfterS} s`);
      const user = await svc.users.checkLogin(req.body.name, req.body.password).catch((e: unknown) => {
        brake.failure(req.body.name, req.ip);
        throw e;
      });
      if (!user) {
        brake.failure(req.body.name, req.ip);
        throw new NimboError('Unauthorized', 'wrong user name or password');
      }
      brake.success(req.body.name, req.ip);
      const s = await svc.sessions.create(user);
      const secure = req.protocol === 'https';
      reply.header('Set-Cookie', [sessionCookie(s.id, SESSION_ABSOLUTE_MS / 1000, secure), panelMarkCookie(SESSION_ABSOLUTE_MS / 1000, secure)]);
      reply.header('Cache-Control', 'no-store');
      return { user: userView(user), csrfToken: s.csrf, expiresAt: s.expiresAt.toISOString() };
    },
  );

  app.post(
    '/auth/logout',
    { config: { access: { action: 'write', resource: 'self' } }, schema: { tags: ['auth'], summary: 'End the login session of the cookie', response: { 204: Type.Null(), 400: ErrorBody } } },
    async (req, reply) => {
      const p = principalOf(req);
      if (p.via !== 'session' || !p.sessionId) throw invalid('logout ends a login session; a token is revoked with DELETE /api/v1/tokens/{id}');
      await id().sessions.end(p.sessionId);
      const secure = req.protocol === 'https';
      return reply.code(204).header('Set-Cookie', [clearedCookie(secure), panelMarkCookie(0, secure)]).send();
    },
  );

  app.get(
    '/auth/whoami',
    { config: { access: { action: 'read', resource: 'self' } }, schema: { tags: ['auth'], summary: 'Who the caller is: user, project roles, token scope or session', response: { 200: Whoami } } },
    async (req, reply) => {
      const p = principalOf(req);
      reply.header('Cache-Control', 'no-store');
      return {
        user: userView(await self(req)),
        via: p.via,
        projects: { ...p.projects },
        ...(p.token ? { token: p.token } : {}),
        ...(req.session ? { csrfToken: req.session.csrf, sessionExpiresAt: req.session.expiresAt.toISOString() } : {}),
      };
    },
  );

  app.put<{ Body: PasswordChange }>(
    '/auth/password',
    {
      config: { access: { action: 'write', resource: 'self' } },
      schema: { tags: ['auth'], summary: "Change the caller's own password (its login sessions end)", body: PasswordChange, response: { 204: Type.Null(), 400: ErrorBody, 403: ErrorBody } },
    },
    async (req, reply) => {
      await id().users.changePassword(principalOf(req).userName, req.body.currentPassword, req.body.newPassword);
      return reply.code(204).send();
    },
  );

  app.get<{ Querystring: PageParams }>(
    '/tokens',
    {
      config: { access: { action: 'read', resource: 'self' } },
      schema: { tags: ['auth'], summary: `The caller's API tokens (never their secrets), oldest first,${PAGED}`, querystring: PageQuery, response: { 200: pageOfSchema('tokens', Token) } },
    },
    async (req) => listPage('tokens', await id().tokens.list(principalOf(req).userId), byTokenAge, req.query, (t) => t),
  );

  app.post<{ Body: TokenCreate }>(
    '/tokens',
    {
      config: { access: { action: 'write', resource: 'self' } },
      schema: { tags: ['auth'], summary: 'Create an API token; its secret is in this answer only', body: TokenCreate, response: { 201: TokenCreated, 400: ErrorBody, 403: ErrorBody, 404: ErrorBody } },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const svc = id();
      const project = req.body.project;
      if (project !== undefined) {
        if (!(await svc.projects.exists(project))) throw new NimboError('NotFound', `project ${project} not found`);
        if (p.platformRole === undefined && p.projects[project] === undefined) throw new NimboError('Forbidden', `you are not a member of project ${project}`);
      }
      const made = await svc.tokens.create(await self(req), req.body, p);
      return reply.code(201).header('Cache-Control', 'no-store').send(made);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/tokens/:id',
    { config: { access: { action: 'write', resource: 'self' } }, schema: { tags: ['auth'], summary: 'Revoke an API token (yours; a platform admin: anyone\'s)', params: TokenIdParams, response: { 200: Token, 404: ErrorBody } } },
    async (req) => id().tokens.revoke(req.params.id, principalOf(req)),
  );
}
