// Authorization, decided in one place: after authentication, each matched route's declared access
// (`config.access`) is checked against the request's principal and project by the policy
// (core/authz/policy.ts). A route that declares nothing is refused (deny by default).
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { Type, type TSchema } from '@sinclair/typebox';
import type { Principal } from '../core/identity/principal.js';
import { isProjectResource, type Access } from '../core/authz/access.js';
import { authorize } from '../core/authz/policy.js';
import { NAME_PATTERN } from '../shared/api-types.js';
import { DEFAULT_PROJECT } from '../store/keys.js';
import { isPublicRoute, type RouteAccess } from './authn.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The path parameter that names the route's project (e.g. /projects/{name}/members), instead of ?project=. */
    projectParam?: string;
  }
}

/** `?project=` as documented on every project-scoped route. */
const ProjectParam = Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 63, description: "the project to work in (default: the token's project, else the user's default project)" });
const PROJECT_RE = new RegExp(NAME_PATTERN);

/** The project a principal works in when the request names none: the token's, else the user's default project, else its first, else `default`. */
export function defaultProject(principal: Principal): string {
  return principal.token?.project ?? principal.defaultProject ?? Object.keys(principal.projects)[0] ?? DEFAULT_PROJECT;
}

/** `?project=` of a query (or the path parameter `param`): the name, none, or why it is refused. Pure. */
export function queryProject(query: unknown, param = 'project'): { project?: string } | { message: string } {
  const p = query && typeof query === 'object' ? (query as Record<string, unknown>)[param] : undefined;
  if (p === undefined) return {};
  if (Array.isArray(p)) return { message: `the ${param} parameter was given more than once` };
  if (typeof p !== 'string' || p.length > 63 || !PROJECT_RE.test(p)) return { message: `project ${JSON.stringify(String(p).slice(0, 80))} is not a valid project name` };
  return { project: p };
}

/** The querystring schema of a project-scoped route with the optional `project` added (for validation and OpenAPI). */
function withProjectParam(querystring: unknown): TSchema {
  const qs = (querystring ?? { type: 'object' }) as TSchema & { properties?: Record<string, TSchema> };
  return { ...qs, properties: { ...qs.properties, project: ProjectParam } };
}

/**
 * Install the authorization hook; call right after installAuthentication, before any route. With
 * `projectExists`, a caller who reaches a project by a platform role (an admin) gets 404 for one that
 * does not exist, so no resource is made in a misspelt project (a member's role implies it exists).
 */
export function installAuthorization(app: FastifyInstance, projectExists?: (name: string) => Promise<boolean>): void {
  app.decorateRequest('project', undefined);
  app.addHook('onRoute', (route: RouteOptions) => {
    const config = route.config as { access?: Access; projectParam?: string } | undefined;
    const access = config?.access;
    if (access && isProjectResource(access.resource) && !config?.projectParam) route.schema = { ...route.schema, querystring: withProjectParam(route.schema?.querystring) };
  });
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const config = req.routeOptions.config as (RouteAccess & { access?: Access; projectParam?: string }) | undefined;
    // Public routes need nothing; the not-found handler answers 404 after authentication.
    if (isPublicRoute(req.routeOptions.url, config) || req.routeOptions.url === undefined) return;
    const principal = req.principal;
    if (!principal) return forbid(reply, 'the request has no authenticated principal');
    const access = config?.access;
    if (!access) return forbid(reply, `route ${req.routeOptions.method} ${req.routeOptions.url} declares no access`);
    // A route under /projects/{name}/ names its project in the path; every other one may take ?project=.
    const asked = config.projectParam ? queryProject(req.params, config.projectParam) : queryProject(req.query);
    if ('message' in asked) return reply.code(400).send({ error: { code: 'InvalidArgument', message: asked.message } });
    // Taken out before validation: routes with strict query schemas accept it, handlers never see it.
    if (req.query && typeof req.query === 'object') delete (req.query as Record<string, unknown>).project;
    const scoped = isProjectResource(access.resource);
    const project = scoped ? (asked.project ?? defaultProject(principal)) : undefined;
    const decision = authorize(principal, access, project);
    if (!decision.allowed) return forbid(reply, decision.message);
    if (project !== undefined && projectExists && !principal.projects[project] && project !== DEFAULT_PROJECT && !(await projectExists(project))) {
      return reply.code(404).send({ error: { code: 'NotFound', message: `project ${project} does not exist` } });
    }
    if (project !== undefined) req.project = project;
  });
}

function forbid(reply: FastifyReply, message: string) {
  return reply.code(403).send({ error: { code: 'Forbidden', message } });
}
