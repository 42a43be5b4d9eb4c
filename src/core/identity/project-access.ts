// Who may see and manage a project's own records (its description, its members), for routes whose project is
// in the path (/projects/{name}/...). The API's authorization hook checks the declared access; this is the
// project-specific rule those handlers apply on top, so that a path can never reach past the caller's roles.
import { NimboError, notFound } from '../../lib/errors.js';
import type { Principal, ProjectRole } from './principal.js';

/** The caller's role in `project` as far as its token lets it act there: 'admin' for a platform admin. */
export function roleIn(p: Principal, project: string): ProjectRole | 'admin' | undefined {
  if (p.token?.project !== undefined && p.token.project !== project) return undefined;
  if (p.platformRole === 'admin') return 'admin';
  return p.projects[project];
}

/** Whether `p` may see project `project` (any role in it, or a platform role). */
export function canSeeProject(p: Principal, project: string): boolean {
  if (p.token?.project !== undefined && p.token.project !== project) return false;
  return p.platformRole !== undefined || p.projects[project] !== undefined;
}

/** Refuse (NotFound, so names do not leak) unless `p` may see `project`'s members. */
export function checkReadMembers(p: Principal, project: string): void {
  if (!roleIn(p, project)) throw notFound(`project ${project}`);
}

/** Refuse unless `p` may change `project`'s members: a platform admin or the project's owner, with a write credential. */
export function checkWriteMembers(p: Principal, project: string): void {
  const role = roleIn(p, project);
  if (!role) throw notFound(`project ${project}`);
  if (p.token?.access === 'read') throw new NimboError('Forbidden', `token ${p.token.id} is read-only`);
  if (role !== 'admin' && role !== 'owner') throw new NimboError('Forbidden', `only an owner of project ${project} (or a platform admin) can change its members; you are ${role}`);
}
