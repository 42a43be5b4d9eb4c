// The authorization policy: one pure function from (principal, declared access, the request's project)
// to allowed or a 403 sentence. The API calls it in one place (src/api/authz.ts); lists of operations
// and events use mayUseItem for each item. Nothing here looks at URLs or the store.
import type { Principal, ProjectRole } from '../identity/principal.js';
import { isProjectResource, type Access, type Action, type PlatformResource, type ProjectResource, type Resource } from './access.js';

/** The policy's answer: allowed, or refused with a 403 and one sentence. */
export type Decision = { allowed: true } | { allowed: false; status: 403; message: string };

/** The one "allowed" decision. */
export const ALLOWED: Decision = Object.freeze({ allowed: true });

const RW: readonly Action[] = ['read', 'write'];
const R: readonly Action[] = ['read'];

/** What an operator may do on platform resources (no project resources: those are tenants' data). */
const OPERATOR: Readonly<Partial<Record<PlatformResource, readonly Action[]>>> = { host: RW, pool: RW, plan: RW, project: R, user: R, audit: R, 'backup-store': RW, 'backup-sync': R, metrics: R };
/**
 * What every authenticated user may do on platform resources: see plans (to choose one), projects and backup stores (to choose one; paths are shown to platform roles only), manage
 * itself. Project routes show a caller only the projects it has a role in (core/identity/project-access.ts).
 */
const EVERYONE: Readonly<Partial<Record<PlatformResource, readonly Action[]>>> = { plan: R, project: R, self: RW, 'backup-store': R };

/** What each project role may do on the project's resources (absent: read and write). */
const ROLE_LIMITS: Readonly<Record<ProjectRole, Readonly<Partial<Record<ProjectResource, readonly Action[]>>> | 'read-only'>> = {
  // Quotas are the provider's to set: an owner sees them, an admin changes them.
  owner: { quota: R },
  member: { member: R, quota: R },
  viewer: 'read-only',
};

/**
 * Project resources that also hold platform-level items (an operation or event on a pool has no project):
 * a platform role may use their routes in any project, and the route shows it only the items mayUseItem allows.
 */
const PLATFORM_ITEMS: ReadonlySet<Resource> = new Set<Resource>(['operation', 'event']);

/** How a resource is named in a refusal ("may not change instances"). */
const NOUN: Readonly<Record<Resource, string>> = {
  instance: 'instances', volume: 'volumes', network: 'networks', secgroup: 'security groups', forward: 'port forwards',
  image: 'images', snapshot: 'snapshots', operation: 'operations', event: 'events', usage: 'usage', quota: 'quotas',
  member: 'project members', webhook: 'webhooks', backup: 'backups', 'backup-store': 'backup stores', 'backup-sync': 'the chunks and indexes of backup stores', host: 'the host', pool: 'storage pools', plan: 'plans', user: 'users',
  project: 'projects', audit: 'the audit log', self: 'its own account', metrics: 'the metrics of all projects',
};

const deny = (message: string): Decision => ({ allowed: false, status: 403, message });
const verb = (a: Action) => (a === 'read' ? 'see' : 'change');
const article = (role: string) => (/^[aeiou]/.test(role) ? `an ${role}` : `a ${role}`);

/**
 * May `principal` do `access` (in `project`, for a project resource)? A token narrows its user's rights:
 * a read-only token allows only reads; a project token allows only its project and no platform writes but `self`.
 */
export function authorize(principal: Principal, access: Access, project?: string): Decision {
  const { action, resource } = access;
  const token = principal.token;
  if (token?.access === 'read' && action === 'write') return deny(`this token is read-only and may not ${verb(action)} ${NOUN[resource]}`);
  if (!isProjectResource(resource)) {
    if (token?.project !== undefined && action === 'write' && resource !== 'self') return deny(`this token is limited to project ${token.project} and may not change ${NOUN[resource]}`);
    return platformDecision(principal, action, resource);
  }
  if (project === undefined) return deny(`no project was chosen for this request on ${NOUN[resource]}`);
  if (token?.project !== undefined && token.project !== project) return deny(`this token is limited to project ${token.project} and may not be used in project ${project}`);
  if (principal.platformRole === 'admin') return ALLOWED;
  const role = principal.projects[project];
  if (!role) {
    // An operator sees platform-level operations and events (pools, hosts) through the project routes.
    if (principal.platformRole !== undefined && PLATFORM_ITEMS.has(resource)) return ALLOWED;
    return deny(`you have no access to project ${project}`);
  }
  const limits = ROLE_LIMITS[role];
  const allowed = limits === 'read-only' ? R : (limits[resource] ?? RW);
  if (allowed.includes(action)) return ALLOWED;
  return deny(`user ${principal.userName} is ${article(role)} in project ${project} and may not ${verb(action)} ${NOUN[resource]}`);
}

function platformDecision(principal: Principal, action: Action, resource: PlatformResource): Decision {
  if (principal.platformRole === 'admin') return ALLOWED;
  if (EVERYONE[resource]?.includes(action)) return ALLOWED;
  if (principal.platformRole === 'operator' && OPERATOR[resource]?.includes(action)) return ALLOWED;
  const who = principal.platformRole ? `is ${article(principal.platformRole)}` : 'has no platform role';
  return deny(`user ${principal.userName} ${who} and may not ${verb(action)} ${NOUN[resource]}`);
}

/**
 * May `principal` see (read) or act on (write) one operation or event of `itemProject` in a request that runs
 * in `requestProject`? Items of another project never show; platform-level items (no project) show only to
 * admins and operators whose token is not limited to a project.
 */
export function mayUseItem(principal: Principal, access: Access, itemProject: string | undefined, requestProject: string): boolean {
  if (itemProject === undefined) {
    if (principal.platformRole === undefined || principal.token?.project !== undefined) return false;
    return !(principal.token?.access === 'read' && access.action === 'write');
  }
  if (itemProject !== requestProject) return false;
  // The platform-item leniency of authorize() does not reach a project's own items.
  if (principal.platformRole !== 'admin' && principal.projects[itemProject] === undefined) return false;
  return authorize(principal, access, itemProject).allowed;
}
