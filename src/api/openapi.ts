// The OpenAPI document as a contract: named component schemas, an operationId on every operation,
// documented errors, WebSocket and binary routes. Applied as @fastify/swagger's per-route `transform`,
// so the schemas that validate and serialize requests are never changed, only their description.
import type { RouteOptions } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { Backup, BackupCreate, BackupJob, BackupJobSet, BackupRestore, BackupStore, BackupStoreCreate } from '../shared/backup-types.js';
import { ErrorBody, Event, HostInfo, Image, ImageBuild, ImageImport, ImagePublish, Instance, InstanceCopy, InstanceCreate, Nic, Operation } from '../shared/api-types.js';
import { Forward, ForwardCreate, Lease, Network, NetworkCreate, NicAttach, SecurityGroup, SecurityGroupCreate, SecurityRule } from '../shared/network-types.js';
import { Member, Project, Token, TokenCreate, User, UserCreate } from '../shared/identity-types.js';
import { InstanceSnapshot, InstanceSnapshotCreate, Pool, PoolCreate, Snapshot, SnapshotCreate, Volume, VolumeAttach, VolumeCreate } from '../shared/storage-types.js';
import { AuditEntry, Delivery, UsageRow, Webhook, WebhookCreate } from '../shared/trail-types.js';
import { HostMetrics, InstanceMetrics } from '../shared/metrics-types.js';

/** The resources that appear in `components.schemas`, by name; every use of one becomes a `$ref`. */
export const NAMED_SCHEMAS: Record<string, TSchema> = {
  Instance, Nic, Image, Operation, HostInfo, Event, Network, Lease, Forward, SecurityGroup, SecurityRule,
  Pool, Volume, Snapshot, InstanceSnapshot, Error: ErrorBody, User, Project, Member, Token,
  // The main request bodies, so generated clients get named types for them too.
  InstanceCreate, InstanceCopy, ImageBuild, ImageImport, ImagePublish, NetworkCreate, ForwardCreate, NicAttach, SecurityGroupCreate,
  PoolCreate, VolumeCreate, VolumeAttach, SnapshotCreate, InstanceSnapshotCreate, UserCreate, TokenCreate,
  AuditEntry, Webhook, WebhookCreate, Delivery, UsageRow,
  Backup, BackupStore, BackupJob, BackupStoreCreate, BackupCreate, BackupRestore, BackupJobSet,
  InstanceMetrics, HostMetrics,
};

const byIdentity = new Map<unknown, string>(Object.entries(NAMED_SCHEMAS).map(([n, s]) => [s, n]));
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** A deep copy of `schema` where each named schema (by identity) below the top is a `$ref`. Pure. */
export function withRefs(schema: unknown, top = true): unknown {
  if (!top && byIdentity.has(schema)) return ref(byIdentity.get(schema)!);
  if (Array.isArray(schema)) return schema.map((s) => withRefs(s, false));
  if (!schema || typeof schema !== 'object') return schema;
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, withRefs(v, false)]));
}

/** `components.schemas` for the swagger options: each named schema, its named parts as refs. */
export function componentSchemas(): Record<string, unknown> {
  return Object.fromEntries(Object.entries(NAMED_SCHEMAS).map(([n, s]) => [n, withRefs(s, true)]));
}

const VERBS: Record<string, string> = { GET: 'get', POST: 'post', PUT: 'put', PATCH: 'patch', DELETE: 'delete' };
const pascal = (s: string) => s.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');

/**
 * A stable camelCase operationId from method and path: the verb (`connect` for a WebSocket), the static
 * segments and `By` + each path parameter, e.g. GET /instances/:name -> getInstancesByName. Pure.
 */
export function operationIdOf(method: string, url: string, websocket = false): string {
  const segs = url.replace(/^\/api\/v1/, '').split('/').filter(Boolean);
  const verb = websocket ? 'connect' : (VERBS[method] ?? method.toLowerCase());
  return verb + segs.map((s) => (s.startsWith(':') ? 'By' + pascal(s.slice(1)) : pascal(s))).join('');
}

const DESCRIPTIONS: Record<string, string> = {
  200: 'OK', 201: 'Created', 202: 'Accepted: the action runs as the Operation in the body', 204: 'Done, no content',
  400: 'The request is invalid', 401: 'Missing or invalid bearer token', 403: 'Not allowed (e.g. over a quota)',
  404: 'No such object or route', 409: 'Conflicts with the current state', 411: 'Content-Length required', 413: 'Too large', 416: 'The range is outside the file', 429: 'Too many requests',
  500: 'Internal error', 503: 'A needed service is unavailable',
};

const errorResponse = (code: string) => ({ description: DESCRIPTIONS[code], content: { 'application/json': { schema: ref('Error') } } });

function describeResponse(code: string, schema: unknown): unknown {
  if (code.startsWith('4') || code.startsWith('5')) return errorResponse(code);
  const s = (schema ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = { ...(withRefs(s, byIdentity.has(s) ? false : true) as object) };
  if (byIdentity.has(s)) return { description: DESCRIPTIONS[code] ?? 'OK', content: { 'application/json': { schema: out } } };
  // swagger takes the response's description from this key and removes it from the schema
  out['x-response-description'] = typeof s.description === 'string' ? s.description : (DESCRIPTIONS[code] ?? 'OK');
  if (code === '202') out.headers = { Location: { type: 'string', description: 'The Operation, /api/v1/operations/{id} (GET it, or its /wait, to follow the action)' } };
  return out;
}

/** @fastify/swagger `transform`: the documented form of one route's schema. */
export function transformRoute({ schema, route }: { schema: unknown; url: string; route: RouteOptions }): { schema: Record<string, unknown> } {
  const s = { ...((schema ?? {}) as Record<string, unknown>) };
  const method = String(Array.isArray(route.method) ? route.method[0] : route.method);
  const isPublic = (route.config as { public?: boolean } | undefined)?.public === true;
  const ws = route.websocket === true;
  const given = (s.response ?? {}) as Record<string, unknown>;
  s.operationId ??= operationIdOf(method, route.url, ws);
  const response: Record<string, unknown> = {};
  if (ws) {
    s.hide = false;
    s.description = 'A WebSocket: send GET with `Connection: Upgrade` and `Upgrade: websocket`. Tokens are never accepted in URLs: browsers pass a single-use `?ticket=` from POST /api/v1/auth/ticket on this upgrade.';
    // OpenAPI 3.0 has no WebSocket messages; the events stream shows its message schema on the 101.
    response['101'] = /\/events$/.test(route.url)
      ? { description: 'Switching Protocols: the WebSocket is open; each text message is one Event', content: { 'application/json': { schema: ref('Event') } } }
      : { description: 'Switching Protocols: the WebSocket is open', type: 'null' };
    response.default = { description: 'The upgrade was refused', content: { 'application/json': { schema: ref('Error') } } };
  } else if (method === 'GET' && (/\/(files|file|export)$/.test(route.url) || /\/sync\/(chunks|snapshots)\//.test(route.url) || /\/image-server\/images\/:name\/files\/:file$/.test(route.url))) {
    response['200'] = { description: 'The file bytes', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } };
  }
  for (const [code, sch] of Object.entries(given)) response[code] = describeResponse(code, sch);
  if (Object.keys(response).every((c) => !c.startsWith('2') && c !== '101')) response['200'] = { description: 'OK', type: 'null' };
  const codes = ['400', ...(isPublic ? [] : ['401', '403']), ...(route.url.includes(':') ? ['404'] : []), '500'];
  for (const c of codes) response[c] ??= errorResponse(c);
  s.response = response;
  if (s.body) s.body = withRefs(s.body, false);
  for (const k of ['querystring', 'params', 'headers']) if (s[k]) s[k] = withRefs(s[k]);
  // POST /images: a JSON body builds, an application/octet-stream body uploads (the disk image's bytes).
  const content = (s.body as { content?: Record<string, { schema: unknown }> } | undefined)?.content;
  if (method === 'POST' && route.url.endsWith('/images') && content?.['application/octet-stream']) {
    content['application/octet-stream'].schema = { type: 'string', format: 'binary', description: 'The disk image (qcow2 or raw), with its Content-Length' };
  }
  if (method === 'POST' && route.url.endsWith('/images/upload')) {
    s.consumes = ['application/octet-stream'];
    s.body = { type: 'string', format: 'binary', description: 'The disk image (qcow2 or raw), with its Content-Length' };
  }
  if (method === 'PUT' && /\/files$/.test(route.url)) {
    delete s.body;
    s.consumes = ['application/octet-stream'];
    s.body = { type: 'string', format: 'binary', description: 'The file bytes' };
  }
  return { schema: s };
}
