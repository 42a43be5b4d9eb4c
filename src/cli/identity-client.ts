// The CLI's calls to the identity API (/auth, /tokens, /users, /projects), over the shared ApiClient.
import type { Command } from 'commander';
import { hostname } from 'node:os';
import type { LoginResult, Member, Project, Token, TokenCreate, TokenCreated, User, UserCreate, UserPatch, Whoami } from '../shared/identity-types.js';
import type { ApiClient } from './client.js';
import { ApiClient as Client } from './client.js';
import { endpointFor } from './commands/common.js';
import { CliError, EXIT } from './errors.js';

/**
 * The remote `nimbo login` stores its token for, and `logout` forgets: the command's remote (`local` for the
 * local daemon). A bare URL that is no remote has nowhere to keep a token.
 */
export function loginRemoteOf(cmd: Command): string {
  const ep = endpointFor(cmd);
  if (!ep.remote) throw new CliError(`${ep.url} is not a remote: add it first (nimbo remote add NAME ${ep.url}), then log in with --remote NAME`, { exitCode: EXIT.usage });
  return ep.remote;
}

/** A client for the command's endpoint that acts with exactly this token (logout revokes the stored token with itself). */
export function clientWithToken(cmd: Command, token: string | undefined): ApiClient {
  const ep = endpointFor(cmd);
  return new Client(ep.url, token, { tls: ep.tls });
}

/** The client for `nimbo login`: the endpoint only (login needs no token). */
export function loginClientFor(cmd: Command): ApiClient {
  return clientWithToken(cmd, undefined);
}

/** A token name for this machine's CLI: `cli <host>`, cut to the allowed characters. */
export function cliTokenName(host = hostname()): string {
  return `cli ${host}`.replace(/[^A-Za-z0-9 ._-]/g, '-').slice(0, 63);
}

/**
 * Log in with a password and trade the session for an API token (the CLI keeps tokens, not cookies):
 * login, create the token with the session's cookie and CSRF token, end the session.
 */
export async function loginForToken(c: ApiClient, name: string, password: string, token: TokenCreate): Promise<TokenCreated & { user: User }> {
  const res = await c.response('POST', '/auth/login', { auth: false, body: { name, password } });
  const login = JSON.parse(await res.text()) as LoginResult;
  const cookie = String(res.headers['set-cookie'] ?? '').split(';')[0];
  if (!cookie?.startsWith('nimbo_session=')) throw new CliError('nimbod answered the login without a session cookie', { exitCode: EXIT.failure });
  const headers = { cookie, 'x-csrf-token': login.csrfToken };
  try {
    const made = await c.json<TokenCreated>('POST', '/tokens', { auth: false, headers, body: token });
    return { ...made, user: login.user };
  } finally {
    await c.json('POST', '/auth/logout', { auth: false, headers }).catch(() => undefined);
  }
}

/** GET /auth/whoami. */
export const whoami = (c: ApiClient) => c.json<Whoami>('GET', '/auth/whoami');
/** POST /tokens. */
export const createToken = (c: ApiClient, body: TokenCreate) => c.json<TokenCreated>('POST', '/tokens', { body });
/** Every token of the caller. */
export const listTokens = (c: ApiClient) => c.listAll<Token>('/tokens', 'tokens');
/** DELETE /tokens/{id}. */
export const revokeToken = (c: ApiClient, id: string) => c.json<Token>('DELETE', `/tokens/${encodeURIComponent(id)}`);
/** PUT /auth/password. */
export const changeOwnPassword = (c: ApiClient, currentPassword: string, newPassword: string) => c.json('PUT', '/auth/password', { body: { currentPassword, newPassword } });

const u = (name: string) => `/users/${encodeURIComponent(name)}`;
/** Every user. */
export const listUsers = (c: ApiClient) => c.listAll<User>('/users', 'users');
/** One user. */
export const getUser = (c: ApiClient, name: string) => c.json<User>('GET', u(name));
/** POST /users. */
export const createUser = (c: ApiClient, body: UserCreate) => c.json<User>('POST', '/users', { body });
/** PATCH /users/{name}. */
export const patchUser = (c: ApiClient, name: string, body: UserPatch) => c.json<User>('PATCH', u(name), { body });
/** DELETE /users/{name}. */
export const deleteUser = (c: ApiClient, name: string) => c.json('DELETE', u(name));

const p = (name: string) => `/projects/${encodeURIComponent(name)}`;
// Member routes name their project in the path; routes declare it (config.projectParam) for the authorization hook.
const m = (project: string, user?: string) => `${p(project)}/members${user ? `/${encodeURIComponent(user)}` : ''}`;
/** The projects the caller can see. */
export const listProjects = (c: ApiClient) => c.listAll<Project>('/projects', 'projects');
/** One project. */
export const getProject = (c: ApiClient, name: string) => c.json<Project>('GET', p(name));
/** POST /projects. */
export const createProject = (c: ApiClient, name: string, description?: string) => c.json<Project>('POST', '/projects', { body: { name, ...(description ? { description } : {}) } });
/** DELETE /projects/{name}. */
export const deleteProject = (c: ApiClient, name: string) => c.json('DELETE', p(name));
/** A project's members. */
export const listMembers = (c: ApiClient, project: string) => c.listAll<Member>(m(project), 'members');
/** Add a member. */
export const addMember = (c: ApiClient, project: string, user: string, role: Member['role']) => c.json<Member>('POST', m(project), { body: { user, role } });
/** Change a member's role. */
export const setMemberRole = (c: ApiClient, project: string, user: string, role: Member['role']) => c.json<Member>('PATCH', m(project, user), { body: { role } });
/** Remove a member. */
export const removeMember = (c: ApiClient, project: string, user: string) => c.json('DELETE', m(project, user));
