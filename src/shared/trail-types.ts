// Wire types of the audit log, webhooks and usage (metering) APIs.
import { Type, type Static } from '@sinclair/typebox';

const strict = { additionalProperties: false } as const;

/** One audit entry as GET /api/v1/audit answers it. */
export const AuditEntry = Type.Object({
  id: Type.String({ description: 'time-sortable id; pass the last one as "after" for older entries' }),
  time: Type.String({ description: 'ISO time of the answer' }),
  user: Type.String({ description: 'user name of the caller; anonymous without a valid credential' }),
  userId: Type.Optional(Type.String()),
  via: Type.Optional(Type.String({ description: 'token, session or ticket' })),
  tokenId: Type.Optional(Type.String({ description: "the API token's id (never its secret)" })),
  session: Type.Optional(Type.String({ description: 'a short hash of the session id' })),
  method: Type.String(),
  route: Type.String({ description: 'route pattern, e.g. /api/v1/instances/:name' }),
  params: Type.Optional(Type.Record(Type.String(), Type.String(), { description: "the route's path parameters" })),
  action: Type.String({ description: 'e.g. "write instance" or "login"' }),
  project: Type.Optional(Type.String()),
  loginName: Type.Optional(Type.String({ description: 'login attempts: the user name tried' })),
  source: Type.String({ description: 'source address' }),
  status: Type.Integer({ description: 'HTTP status of the answer' }),
  error: Type.Optional(Type.String({ description: 'error code of a refused or failed call' })),
  ms: Type.Optional(Type.Integer()),
});

/** Query of GET /api/v1/audit. */
export const AuditQuery = Type.Object(
  {
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'only this user name (anonymous: failed logins and refused calls)' })),
    since: Type.Optional(Type.String({ format: 'date-time', description: 'ISO time: only entries at or after it' })),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'ISO time: only entries before it' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'entries per page (default 100, at most 1000)' })),
    after: Type.Optional(Type.String({ pattern: '^[0-9]{13}-[0-9]{6}$', description: 'the "next" cursor of the previous page' })),
  },
  strict,
);
export type AuditQuery = Static<typeof AuditQuery>;

/** A page of audit entries, newest first. */
export const AuditPage = Type.Object({ entries: Type.Array(AuditEntry), next: Type.Optional(Type.String()) });
export type AuditPage = Static<typeof AuditPage>;

/** Event type filter of a webhook: exact types, `prefix.*`, or `*` for all. */
const EventPattern = Type.String({ pattern: '^(\\*|[a-z0-9-]+(\\.[a-z0-9-]+)*(\\.\\*)?)$', maxLength: 100 });

/** Body of POST /api/v1/webhooks. */
export const WebhookCreate = Type.Object(
  {
    url: Type.String({ minLength: 8, maxLength: 2000, description: 'http or https URL that receives the events' }),
    events: Type.Optional(Type.Array(EventPattern, { minItems: 1, maxItems: 50, description: 'event types: exact, "instance.*" or "*" (default ["*"])' })),
    description: Type.Optional(Type.String({ maxLength: 200 })),
  },
  strict,
);
export type WebhookCreate = Static<typeof WebhookCreate>;

/** A webhook as the API shows it (the secret only in the answer of its creation). */
export const Webhook = Type.Object({
  id: Type.String(),
  project: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  description: Type.String(),
  createdAt: Type.String(),
  secret: Type.Optional(Type.String({ description: 'HMAC key of X-Nimbo-Signature; shown only once, at creation' })),
});
export type Webhook = Static<typeof Webhook>;

/** One delivery of an event to a webhook. */
export const Delivery = Type.Object({
  id: Type.String(),
  event: Type.String({ description: 'event type' }),
  target: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  attempts: Type.Integer(),
  responseStatus: Type.Optional(Type.Integer()),
  lastError: Type.Optional(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
export type Delivery = Static<typeof Delivery>;

/** Usage of one instance in one month. */
export const UsageRow = Type.Object({
  instance: Type.String({ description: 'instance UUID' }),
  name: Type.String({ description: 'its name when last metered' }),
  instanceHours: Type.Record(Type.String(), Type.Number(), { description: 'running hours by plan ("none" without a plan)' }),
  diskGbHours: Type.Number({ description: 'GB-hours of the root disk and attached volumes (GB = 10^9 bytes)' }),
  transferInBytes: Type.Integer({ description: 'bytes the instance received' }),
  transferOutBytes: Type.Integer({ description: 'bytes the instance sent' }),
});
export type UsageRow = Static<typeof UsageRow>;

/** GET /api/v1/usage: a project's usage in one month. */
export const UsageReport = Type.Object({
  project: Type.String(),
  month: Type.String(),
  instances: Type.Array(UsageRow),
  totals: Type.Omit(UsageRow, ['instance', 'name']),
});
export type UsageReport = Static<typeof UsageReport>;
