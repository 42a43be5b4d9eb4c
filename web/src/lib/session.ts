// Who is logged in, and what the panel may show them. The decision is the daemon's own policy function
// (src/core/authz/policy.ts, pure), fed with whoami's answer: one copy of the rules. The server enforces it anyway.
import { signal, computed } from '@preact/signals';
import type { Whoami } from '../../../src/shared/identity-types.js';
import type { Access, Resource, Action } from '../../../src/core/authz/access.js';
import { authorize } from '../../../src/core/authz/policy.js';
import type { Principal } from '../../../src/core/identity/principal.js';
import { api, setCsrf, setProject } from './api.js';

/** The logged-in caller (undefined: not logged in; null: not known yet). */
export const me = signal<Whoami | undefined | null>(null);
/** The project the panel works in. */
export const project = signal<string>('default');

/** The caller as the policy sees it. */
const principal = computed<Principal | undefined>(() => {
  const w = me.value;
  if (!w) return undefined;
  return { userId: w.user.id, userName: w.user.name, via: 'session', platformRole: w.user.platformRole, defaultProject: w.user.defaultProject, projects: w.projects };
});

/** Whether the caller may do `action` on `resource` (in the panel's project for project resources). */
export function can(action: Action, resource: Resource, inProject: string = project.value): boolean {
  const p = principal.value;
  if (!p) return false;
  const access: Access = { action, resource };
  return authorize(p, access, inProject).allowed;
}

/** Whether the caller holds a platform role (admin or operator). */
export function isPlatform(): boolean {
  return me.value?.user.platformRole !== undefined;
}

/** Choose the project the panel works in. */
export function chooseProject(name: string): void {
  project.value = name;
  setProject(name);
  try {
    localStorage.setItem('nimbo.project', name);
  } catch {
    /* private mode: not remembered */
  }
}

/** Ask the daemon who we are (the session cookie is HttpOnly: this is how the panel learns it is logged in). */
export async function refreshSession(): Promise<void> {
  // No login happened in this browser (the daemon's marker cookie): show the login page without asking.
  if (!/(?:^|;\s*)nimbo_login=1(?:;|$)/.test(document.cookie)) {
    me.value = undefined;
    return;
  }
  try {
    const w = await api.get<Whoami>('/auth/whoami');
    setCsrf(w.csrfToken);
    me.value = w;
    let saved: string | null = null;
    try {
      saved = localStorage.getItem('nimbo.project');
    } catch {
      saved = null;
    }
    const projects = Object.keys(w.projects);
    const pick = saved && (projects.includes(saved) || w.user.platformRole === 'admin') ? saved : w.user.defaultProject ?? projects[0] ?? 'default';
    chooseProject(pick);
  } catch {
    me.value = undefined;
  }
}

/** Log in with a name and password (sets the HttpOnly session cookie). */
export async function login(name: string, password: string): Promise<void> {
  const r = await api.post<{ csrfToken: string }>('/auth/login', { name, password });
  setCsrf(r.csrfToken);
  await refreshSession();
}

/** End the session. */
export async function logout(): Promise<void> {
  await api.post('/auth/logout').catch(() => undefined);
  setCsrf(undefined);
  me.value = undefined;
}
