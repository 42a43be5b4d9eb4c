// The panel's one way to the daemon: fetch on /api/v1 with the session cookie (sent by the browser) and the
// session's CSRF token on every write. Errors carry the API's own sentence, never a stack trace.

/** An API refusal or failure, with the API's error code and sentence. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** Query values; undefined ones are left out. */
export type Query = Record<string, string | number | boolean | undefined | string[]>;

let csrf: string | undefined;
let project: string | undefined;
let onUnauthorized: (() => void) | undefined;

/** Remember the session's CSRF token (from login or whoami). */
export function setCsrf(token: string | undefined): void {
  csrf = token;
}

/** The session's CSRF token, for requests made without call() (an upload through XMLHttpRequest). */
export function csrfToken(): string | undefined {
  return csrf;
}

/** The project every call runs in (?project=); undefined: the user's default. */
export function setProject(name: string | undefined): void {
  project = name;
}

/** The project calls run in now. */
export function currentProject(): string | undefined {
  return project;
}

/** Called when the API answers 401 (the session expired or was ended): the app shows the login page. */
export function onSessionLost(fn: () => void): void {
  onUnauthorized = fn;
}

/** `/api/v1` + path + query (with the current project unless `noProject`). */
export function apiUrl(path: string, query: Query = {}, noProject = false): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) q.append(k, x);
    else q.set(k, String(v));
  }
  if (project && !noProject && !q.has('project')) q.set('project', project);
  const s = q.toString();
  return `/api/v1${path}${s ? `?${s}` : ''}`;
}

/** One API call: JSON in, JSON out (undefined for 204). Throws ApiError with the API's sentence. */
export async function call<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['x-csrf-token'] = csrf;
  let res: Response;
  try {
    res = await fetch(apiUrl(path, query, path.startsWith('/auth/')), { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, 'Unavailable', 'the daemon cannot be reached: is nimbod running?');
  }
  return readAnswer<T>(res);
}

/** Turn a fetch Response into the answer or an ApiError. */
export async function readAnswer<T>(res: Response): Promise<T> {
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    if (res.status === 401 && onUnauthorized) onUnauthorized();
    throw new ApiError(res.status, err?.code ?? 'Error', err?.message ?? `the daemon answered ${res.status} ${res.statusText}`);
  }
  return json as T;
}

/** Shorthands for call(). */
export const api = {
  get: <T>(path: string, query?: Query) => call<T>('GET', path, undefined, query),
  post: <T>(path: string, body?: unknown, query?: Query) => call<T>('POST', path, body ?? {}, query),
  put: <T>(path: string, body?: unknown, query?: Query) => call<T>('PUT', path, body ?? {}, query),
  patch: <T>(path: string, body?: unknown, query?: Query) => call<T>('PATCH', path, body ?? {}, query),
  del: <T>(path: string, query?: Query) => call<T>('DELETE', path, undefined, query),
};

/** Every item of a paged list route (`{ [key]: T[], next? }`), up to `max` items. */
export async function listAll<T>(path: string, key: string, query: Query = {}, max = 2000): Promise<T[]> {
  const out: T[] = [];
  let after: string | undefined;
  do {
    const page = await api.get<Record<string, unknown> & { next?: string }>(path, { ...query, limit: 500, after });
    out.push(...((page[key] as T[] | undefined) ?? []));
    after = page.next;
  } while (after && out.length < max);
  return out;
}

/** A ws:// or wss:// URL of a WebSocket route, opened with a single-use ticket bound to this session (and instance). */
export async function socketUrl(path: string, opts: { instance?: string; query?: Query } = {}): Promise<string> {
  const t = await api.post<{ ticket: string }>('/auth/ticket', opts.instance ? { instance: opts.instance } : {}, project ? { project } : undefined);
  const url = new URL(apiUrl(path, { ...opts.query, ticket: t.ticket }), location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}
