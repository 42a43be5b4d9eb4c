// What a route declares about the access it needs: an action on a resource, or that it is public.
// The API's one authorization hook checks the declaration against the request's principal and project;
// a route that declares nothing is refused (deny by default).

/** `read` never changes anything; `write` creates, changes, deletes or acts. */
export type Action = 'read' | 'write';

/** Resources that live inside a project: a request on them runs in one project (`?project=`). */
export const PROJECT_RESOURCES = [
  'instance', 'volume', 'network', 'secgroup', 'forward', 'image', 'snapshot', 'operation', 'event',
  'usage', 'quota', 'member', 'webhook', 'backup',
] as const;
/**
 * Resources of the whole platform (no project). `self` is the caller's own account, tokens and session;
 * `metrics` is the Prometheus exposition of every instance (all projects), for admins and operators.
 */
export const PLATFORM_RESOURCES = ['host', 'pool', 'plan', 'user', 'project', 'audit', 'self', 'backup-store', 'backup-sync', 'metrics'] as const;

/** A resource inside a project. */
export type ProjectResource = (typeof PROJECT_RESOURCES)[number];
/** A platform-wide resource. */
export type PlatformResource = (typeof PLATFORM_RESOURCES)[number];
/** Any resource a route can declare. */
export type Resource = ProjectResource | PlatformResource;

/** A route's declaration: `config: { access: { action: 'read', resource: 'instance' } }`. */
export interface Access {
  action: Action;
  resource: Resource;
}

/** Whether `resource` lives inside a project. */
export function isProjectResource(resource: Resource): resource is ProjectResource {
  return (PROJECT_RESOURCES as readonly string[]).includes(resource);
}
