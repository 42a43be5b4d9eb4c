// Who makes a request, as the API's authentication hook found it. Authorization (core/authz) decides
// only from this, never from the URL: a principal is a user (session cookie or API token) with a
// platform role and project roles; a token may narrow that to read-only and to one project.

/** Roles over the whole platform: admin (everything) and operator (hosts, pools, plans; no tenant data). */
export type PlatformRole = 'admin' | 'operator';
/** Roles inside one project, strongest first. */
export type ProjectRole = 'owner' | 'member' | 'viewer';
/** Every platform role. */
export const PLATFORM_ROLES: readonly PlatformRole[] = ['admin', 'operator'];
/** Every project role, strongest first. */
export const PROJECT_ROLES: readonly ProjectRole[] = ['owner', 'member', 'viewer'];

/** How a principal proved itself. */
export type AuthMethod = 'session' | 'token' | 'ticket';

/** The narrowing an API token adds to its user's rights. */
export interface TokenScope {
  /** The token's id (the part of `nimbo_<id>_<secret>` before the secret). */
  id: string;
  /** `read`: GET-like actions only; `write`: whatever the user may do. */
  access: 'read' | 'write';
  /** When set, the token works in this project only. */
  project?: string;
}

/** The authenticated caller of one request. */
export interface Principal {
  userId: string;
  userName: string;
  via: AuthMethod;
  /** The user's platform role, if any. */
  platformRole?: PlatformRole;
  /** The user's default project: where a request runs when neither `?project=` nor its token names one. */
  defaultProject?: string;
  /** The user's role in each project it belongs to (project name -> role). */
  projects: Readonly<Record<string, ProjectRole>>;
  /** Present when the request came with an API token. */
  token?: TokenScope;
  /** Present when the request came with a session cookie: its id (hashed in the store). */
  sessionId?: string;
}
