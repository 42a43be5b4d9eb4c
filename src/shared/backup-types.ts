// Wire types of backups: datastores, backups, restores, retention, jobs and sync (API, CLI and panel share them).
import { Type, type Static } from '@sinclair/typebox';
import { Name } from './api-types.js';

const strict = { additionalProperties: false } as const;
const Count = (description: string) => Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000, description }));

/** A backup id: UTC time and a random tail (sortable, unique per datastore). */
export const BackupId = Type.String({ pattern: '^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4,16}$', maxLength: 40, description: 'backup id, e.g. 20261205T141500Z-3fa9' });

/** A passphrase: what wraps an encrypted store's key (never stored). */
const Passphrase = Type.String({ minLength: 8, maxLength: 1024, description: 'passphrase that wraps the store key (at least 8 characters)' });

/** A store key wrapped by its passphrase (GET /backup-stores/{name}/key): what makes another store with the same key. */
export const WrappedKeyBody = Type.Object(
  {
    format: Type.Literal(1),
    kdf: Type.Literal('scrypt'),
    N: Type.Integer({ minimum: 1024, maximum: 1 << 22 }),
    r: Type.Integer({ minimum: 1, maximum: 64 }),
    p: Type.Integer({ minimum: 1, maximum: 16 }),
    salt: Type.String({ maxLength: 256, pattern: '^[A-Za-z0-9+/=]+$' }),
    iv: Type.String({ maxLength: 256, pattern: '^[A-Za-z0-9+/=]+$' }),
    tag: Type.String({ maxLength: 256, pattern: '^[A-Za-z0-9+/=]+$' }),
    data: Type.String({ maxLength: 4096, pattern: '^[A-Za-z0-9+/=]+$' }),
    fingerprint: Type.String({ maxLength: 128, pattern: '^[0-9a-f:]+$' }),
  },
  { additionalProperties: false, description: 'a wrapped key as `nimbo backup store key` prints it (with encrypt: the new store uses that key; its passphrase is needed)' },
);

/** Create a datastore in an empty directory, or attach one that is there already. */
export const BackupStoreCreate = Type.Object(
  {
    name: Name,
    path: Type.String({ minLength: 2, maxLength: 4096, pattern: '^/', description: 'absolute directory on the daemon host (empty, absent, or an existing nimbo datastore to attach)' }),
    encrypt: Type.Optional(Type.Boolean({ description: 'AES-256-GCM with a new key, wrapped by the passphrase (needs passphrase)' })),
    passphrase: Type.Optional(Passphrase),
    wrappedKey: Type.Optional(WrappedKeyBody),
  },
  strict,
);
export type BackupStoreCreate = Static<typeof BackupStoreCreate>;

/** A datastore as the API shows it. */
export const BackupStore = Type.Object({
  name: Type.String(),
  id: Type.String(),
  /** Shown to admins and operators only. */
  path: Type.Optional(Type.String()),
  encrypted: Type.Boolean(),
  keyFingerprint: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  usage: Type.Optional(Type.Object({ chunks: Type.Integer(), bytes: Type.Integer(), available: Type.Integer() })),
});
export type BackupStore = Static<typeof BackupStore>;

/** One archive of a backup: a disk (fixed chunks) or a file tree / catalog (content-defined chunks). */
export const BackupArchive = Type.Object({
  name: Type.String(),
  type: Type.Union([Type.Literal('fixed'), Type.Literal('dynamic')]),
  size: Type.Integer(),
  /** Why a full read was needed when an incremental was possible. */
  reason: Type.Optional(Type.String()),
});

/** A backup as the API shows it. */
export const Backup = Type.Object({
  id: Type.String(),
  store: Type.String(),
  project: Type.String(),
  instance: Type.Object({ name: Type.String(), uuid: Type.String(), type: Type.String() }),
  time: Type.String(),
  source: Type.Union([Type.Literal('block'), Type.Literal('filesystem')]),
  mode: Type.Union([Type.Literal('full'), Type.Literal('incremental')]),
  consistency: Type.String({ description: 'stopped, crash-consistent or application-consistent' }),
  encrypted: Type.Boolean(),
  archives: Type.Array(BackupArchive),
  stats: Type.Object({ bytesRead: Type.Integer(), bytesNew: Type.Integer(), chunksNew: Type.Integer(), chunksReused: Type.Integer(), seconds: Type.Number() }),
  verified: Type.Optional(Type.Object({ time: Type.String(), ok: Type.Boolean() })),
});
export type Backup = Static<typeof Backup>;

/** POST /instances/{name}/backups. */
export const BackupCreate = Type.Object(
  {
    store: Name,
    full: Type.Optional(Type.Boolean({ description: 'read everything even when an incremental is possible' })),
  },
  strict,
);
export type BackupCreate = Static<typeof BackupCreate>;

/** POST /backups/{id}/restore: in place (the same name, --force when it exists) or as a new instance. */
export const BackupRestore = Type.Object(
  {
    name: Type.Optional(Name),
    pool: Type.Optional(Name),
    targetProject: Type.Optional(Name),
    force: Type.Optional(Type.Boolean({ description: 'overwrite the existing instance of that name (it is stopped first)' })),
    start: Type.Optional(Type.Boolean()),
  },
  strict,
);
export type BackupRestore = Static<typeof BackupRestore>;

/** Retention, as restic and Proxmox define it: the newest snapshot of each of the last N periods. */
export const RetentionPolicy = Type.Object(
  {
    keepLast: Count('keep the N newest'),
    keepHourly: Count('one per hour, for the last N hours that have one'),
    keepDaily: Count('one per day'),
    keepWeekly: Count('one per ISO week'),
    keepMonthly: Count('one per month'),
    keepYearly: Count('one per year'),
  },
  strict,
);
export type RetentionPolicy = Static<typeof RetentionPolicy>;

/** POST /backup-stores/{name}/prune. */
export const BackupPrune = Type.Object(
  { policy: RetentionPolicy, instance: Type.Optional(Name), dryRun: Type.Optional(Type.Boolean()) },
  strict,
);
export type BackupPrune = Static<typeof BackupPrune>;

/** What a prune keeps and removes (a dry run only says so). */
export const PruneResult = Type.Object({
  dryRun: Type.Boolean(),
  keep: Type.Array(Type.Object({ id: Type.String(), instance: Type.String(), reasons: Type.Array(Type.String()) })),
  remove: Type.Array(Type.Object({ id: Type.String(), instance: Type.String() })),
});
export type PruneResult = Static<typeof PruneResult>;

/** A backup job: a cron schedule for one instance or every instance of the project, with retention. */
export const BackupJobSet = Type.Object(
  {
    store: Name,
    cron: Type.String({ minLength: 1, maxLength: 100, description: '5-field cron (UTC) or @hourly, @daily, @weekly, @monthly' }),
    instance: Type.Optional(Name),
    keep: Type.Optional(RetentionPolicy),
  },
  strict,
);
export type BackupJobSet = Static<typeof BackupJobSet>;

/** A backup job as stored and shown. */
export const BackupJob = Type.Object({
  name: Type.String(),
  project: Type.String(),
  store: Type.String(),
  cron: Type.String(),
  instance: Type.Optional(Type.String()),
  keep: Type.Optional(RetentionPolicy),
  lastRun: Type.String(),
  nextRun: Type.Optional(Type.String()),
  lastResult: Type.Optional(Type.String()),
});
export type BackupJob = Static<typeof BackupJob>;

/** POST /backup-stores/{name}/sync: pull what another nimbo daemon's store has and this one lacks. */
export const BackupSync = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', maxLength: 2048, description: "the other daemon's API, e.g. https://host:8443" }),
    token: Type.String({ minLength: 8, maxLength: 512, description: 'an API token there (admin or operator)' }),
    store: Name,
    fingerprint: Type.Optional(Type.String({ pattern: '^[0-9A-Fa-f:]{64,95}$', description: "SHA-256 fingerprint of the other daemon's TLS certificate (https)" })),
  },
  strict,
);
export type BackupSync = Static<typeof BackupSync>;
