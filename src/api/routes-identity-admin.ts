// /api/v1/users (platform admins manage accounts) and /api/v1/projects with their members.
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody, Name } from '../shared/api-types.js';
import { Member, MemberAdd, MemberPatch, Project, ProjectCreate, User, UserCreate, UserPatch } from '../shared/identity-types.js';
import { identityServices } from '../core/identity/services.js';
import { canSeeProject, checkReadMembers, checkWriteMembers } from '../core/identity/project-access.js';
import { notFound } from '../lib/errors.js';
import type { ApiContext } from './context.js';
import { principalOf } from './routes-identity.js';
import { PAGED, PageQuery, byName, listPage, pageOfSchema, type PageParams } from './paging.js';

const byUser = { key: (m: Member) => m.user };

const NameParams = Type.Object({ name: Name });
const MemberParams = Type.Object({ name: Name, user: Name });
const no = { 204: Type.Null(), 404: ErrorBody, 409: ErrorBody };

/** /api/v1/users and /api/v1/projects routes. */
export async function identityAdminRoutes(app: FastifyInstance, ctx: ApiContext) {
  const id = () => identityServices(ctx.store);
  const user = (action: 'read' | 'write') => ({ access: { action, resource: 'user' as const } });
  const project = (action: 'read' | 'write') => ({ access: { action, resource: 'project' as const } });
  // The members routes name their project in the path ({name}), not in ?project=.
  const member = (action: 'read' | 'write') => ({ access: { action, resource: 'member' as const }, projectParam: 'name' });

  app.get<{ Querystring: PageParams }>(
    '/users',
    { config: user('read'), schema: { tags: ['users'], summary: `List users by name,${PAGED}`, querystring: PageQuery, response: { 200: pageOfSchema('users', User) } } },
    async (req) => listPage('users', await id().users.list(), byName, req.query, (u) => u),
  );
  app.post<{ Body: UserCreate }>(
    '/users',
    { config: user('write'), schema: { tags: ['users'], summary: 'Create a user (a member of its default project)', body: UserCreate, response: { 201: User, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody } } },
    async (req, reply) => reply.code(201).send(await id().users.create(req.body)),
  );
  app.get<{ Params: { name: string } }>(
    '/users/:name',
    { config: user('read'), schema: { tags: ['users'], summary: 'Show a user', params: NameParams, response: { 200: User, 404: ErrorBody } } },
    async (req) => id().users.get(req.params.name),
  );
  app.patch<{ Params: { name: string }; Body: UserPatch }>(
    '/users/:name',
    { config: user('write'), schema: { tags: ['users'], summary: "Change a user's platform role, disabled flag, default project or password", params: NameParams, body: UserPatch, response: { 200: User, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody } } },
    async (req) => id().users.update(req.params.name, req.body),
  );
  app.delete<{ Params: { name: string } }>(
    '/users/:name',
    { config: user('write'), schema: { tags: ['users'], summary: 'Delete a user with its memberships, tokens and sessions', params: NameParams, response: no } },
    async (req, reply) => {
      await id().users.delete(req.params.name);
      return reply.code(204).send();
    },
  );

  app.get<{ Querystring: PageParams }>(
    '/projects',
    { config: project('read'), schema: { tags: ['projects'], summary: `List the projects the caller can see, by name,${PAGED}`, querystring: PageQuery, response: { 200: pageOfSchema('projects', Project) } } },
    async (req) => listPage('projects', (await id().projects.list()).filter((p) => canSeeProject(principalOf(req), p.name)), byName, req.query, (p) => p),
  );
  app.post<{ Body: ProjectCreate }>(
    '/projects',
    { config: project('write'), schema: { tags: ['projects'], summary: 'Create a project; the caller becomes its owner', body: ProjectCreate, response: { 201: Project, 400: ErrorBody, 409: ErrorBody } } },
    async (req, reply) => reply.code(201).send(await id().projects.create(req.body.name, req.body.description ?? '', principalOf(req).userName)),
  );
  app.get<{ Params: { name: string } }>(
    '/projects/:name',
    { config: project('read'), schema: { tags: ['projects'], summary: 'Show a project', params: NameParams, response: { 200: Project, 404: ErrorBody } } },
    async (req) => {
      if (!canSeeProject(principalOf(req), req.params.name)) throw notFound(`project ${req.params.name}`);
      return id().projects.get(req.params.name);
    },
  );
  app.delete<{ Params: { name: string } }>(
    '/projects/:name',
    { config: project('write'), schema: { tags: ['projects'], summary: 'Delete a project that owns nothing (its tokens are revoked)', params: NameParams, response: { ...no, 400: ErrorBody } } },
    async (req, reply) => {
      await id().projects.delete(req.params.name);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { name: string }; Querystring: PageParams }>(
    '/projects/:name/members',
    { config: member('read'), schema: { tags: ['projects'], summary: `List a project's members by user name,${PAGED}`, params: NameParams, querystring: PageQuery, response: { 200: pageOfSchema('members', Member), 404: ErrorBody } } },
    async (req) => {
      checkReadMembers(principalOf(req), req.params.name);
      return listPage('members', await id().projects.members(req.params.name), byUser, req.query, (m) => m);
    },
  );
  app.post<{ Params: { name: string }; Body: MemberAdd }>(
    '/projects/:name/members',
    { config: member('write'), schema: { tags: ['projects'], summary: 'Add a user to a project with a role', params: NameParams, body: MemberAdd, response: { 201: Member, 400: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody } } },
    async (req, reply) => {
      checkWriteMembers(principalOf(req), req.params.name);
      return reply.code(201).send(await id().projects.addMember(req.params.name, req.body.user, req.body.role));
    },
  );
  app.patch<{ Params: { name: string; user: string }; Body: MemberPatch }>(
    '/projects/:name/members/:user',
    { config: member('write'), schema: { tags: ['projects'], summary: "Change a member's role (a project keeps one owner)", params: MemberParams, body: MemberPatch, response: { 200: Member, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody } } },
    async (req) => {
      checkWriteMembers(principalOf(req), req.params.name);
      return id().projects.setRole(req.params.name, req.params.user, req.body.role);
    },
  );
  app.delete<{ Params: { name: string; user: string } }>(
    '/projects/:name/members/:user',
    { config: member('write'), schema: { tags: ['projects'], summary: 'Remove a member (not the last owner)', params: MemberParams, response: { ...no, 403: ErrorBody } } },
    async (req, reply) => {
      checkWriteMembers(principalOf(req), req.params.name);
      await id().projects.removeMember(req.params.name, req.params.user);
      return reply.code(204).send();
    },
  );
}
