// Wire types of users, projects, memberships, API tokens and login sessions (/api/v1/users, /projects,
// /tokens, /auth). Secrets appear in exactly two answers: a token's at its creation, a session's CSRF token.
import { Type, type Static } from '@sinclair/typebox';
import { NAME_PATTERN } from './api-constants.js';

const strict = { additionalProperties: false } as const;
const ProjectName = Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 63, description: 'project name (DNS label)' });
const UserName = Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 63, description: 'user name (DNS label)' });
const Password = Type.String({ minLength: 8, maxLength: 1024, description: 'at least 8 characters' });
const Time = Type.String({ description: 'RFC 3339 time' });

/** A platform role: admin (everything) or operator (hosts, pools, plans; no tenant data). */
export const PlatformRoleSchema = Type.Union([Type.Literal('admin'), Type.Literal('operator')]);
/** A role inside a project. */
export const ProjectRoleSchema = Type.Union([Type.Literal('owner'), Type.Literal('member'), Type.Literal('viewer')]);

/** A user as the API shows it (never its password hash). */
export const User = Type.Object({
  id: Type.String({ description: 'UUID' }),
  name: UserName,
  platformRole: Type.Optional(PlatformRoleSchema),
  defaultProject: ProjectName,
  createdAt: Time,
  disabled: Type.Optional(Type.Boolean()),
});
export type User = Static<typeof User>;

/** Body of POST /api/v1/users. */
export const UserCreate = Type.Object(
  {
    name: UserName,
    password: Password,
    platformRole: Type.Optional(PlatformRoleSchema),
    defaultProject: Type.Optional(ProjectName),
  },
  strict,
);
export type UserCreate = Static<typeof UserCreate>;

/** Body of PATCH /api/v1/users/{name}: role (null drops it), disabled, default project, a new password. */
export const UserPatch = Type.Object(
  {
    platformRole: Type.Optional(Type.Union([PlatformRoleSchema, Type.Null()])),
    disabled: Type.Optional(Type.Boolean()),
    defaultProject: Type.Optional(ProjectName),
    password: Type.Optional(Password),
  },
  { ...strict, minProperties: 1 },
);
export type UserPatch = Static<typeof UserPatch>;

/** Body of PUT /api/v1/auth/password: the caller changes its own password. */
export const PasswordChange = Type.Object({ currentPassword: Type.String({ maxLength: 1024 }), newPassword: Password }, strict);
export type PasswordChange = Static<typeof PasswordChange>;

/** A project. */
export const Project = Type.Object({ name: ProjectName, description: Type.String(), createdAt: Time });
export type Project = Static<typeof Project>;

/** Body of POST /api/v1/projects. */
export const ProjectCreate = Type.Object({ name: ProjectName, description: Type.Optional(Type.String({ maxLength: 255 })) }, strict);
export type ProjectCreate = Static<typeof ProjectCreate>;

/** A user's membership of a project. */
export const Member = Type.Object({ project: ProjectName, user: UserName, role: ProjectRoleSchema, addedAt: Time });
export type Member = Static<typeof Member>;

/** Body of POST /api/v1/projects/{name}/members. */
export const MemberAdd = Type.Object({ user: UserName, role: ProjectRoleSchema }, strict);
export type MemberAdd = Static<typeof MemberAdd>;

/** Body of PATCH /api/v1/projects/{name}/members/{user}. */
export const MemberPatch = Type.Object({ role: ProjectRoleSchema }, strict);
export type MemberPatch = Static<typeof MemberPatch>;

/** An API token as lists show it: never its secret or hash. */
export const Token = Type.Object({
  id: Type.String({ description: 'the public part of nimbo_<id>_<secret>' }),
  name: Type.String(),
  user: UserName,
  access: Type.Union([Type.Literal('read'), Type.Literal('write')]),
  project: Type.Optional(ProjectName),
  createdAt: Time,
  expiresAt: Type.Optional(Time),
  lastUsedAt: Type.Optional(Time),
  revokedAt: Type.Optional(Time),
});
export type Token = Static<typeof Token>;

/** Body of POST /api/v1/tokens. */
export const TokenCreate = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$', description: '1-63 letters, digits, space, . _ -' }),
    access: Type.Optional(Type.Union([Type.Literal('read'), Type.Literal('write')], { description: 'read: GET-like calls only; write (default): whatever the user may do' })),
    project: Type.Optional(ProjectName),
    expiresIn: Type.Optional(Type.Integer({ minimum: 60, maximum: 10 * 366 * 86400, description: 'seconds until it expires (default: never)' })),
  },
  strict,
);
export type TokenCreate = Static<typeof TokenCreate>;

/** Answer of POST /api/v1/tokens: the token, and its secret, shown this once. */
export const TokenCreated = Type.Object({ token: Token, secret: Type.String({ description: 'nimbo_<id>_<secret>: shown only now' }) });
export type TokenCreated = Static<typeof TokenCreated>;

/** Body of POST /api/v1/auth/login. */
export const Login = Type.Object({ name: UserName, password: Type.String({ minLength: 1, maxLength: 1024 }) }, strict);
export type Login = Static<typeof Login>;

/** Answer of a login: who, the CSRF token to send as X-CSRF-Token on writes, and when the session ends. */
export const LoginResult = Type.Object({ user: User, csrfToken: Type.String(), expiresAt: Time });
export type LoginResult = Static<typeof LoginResult>;

/** Answer of GET /api/v1/auth/whoami: the caller as authentication found it. */
export const Whoami = Type.Object({
  user: User,
  via: Type.Union([Type.Literal('session'), Type.Literal('token'), Type.Literal('ticket')]),
  projects: Type.Record(Type.String(), ProjectRoleSchema),
  token: Type.Optional(Type.Object({ id: Type.String(), access: Type.Union([Type.Literal('read'), Type.Literal('write')]), project: Type.Optional(ProjectName) })),
  csrfToken: Type.Optional(Type.String({ description: 'with a session cookie: the token writes must carry in X-CSRF-Token' })),
  sessionExpiresAt: Type.Optional(Time),
});
export type Whoami = Static<typeof Whoami>;
