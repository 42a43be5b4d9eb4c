// Record migrations, run once at daemon start before anything reads a record. The version the store has
// reached is kept at /meta/records; each step is ONE store transaction guarded by that key (and by every
// record it rewrites), so a crash or a second daemon racing leaves either the old version whole or the new
// one whole, never a mix. Running it again at the current version writes nothing.
import type { Logger } from '../../lib/log.js';
import type { StatePaths } from '../config.js';
import { legacyHostIds } from '../host-ids.js';
import type { InstanceRecord } from '../instance-record.js';
import { DEFAULT_PROJECT, keys } from '../../store/keys.js';
import type { Compare, Store, TxnOp } from '../../store/store.js';
import { isInstanceRecordV2 } from './instance-schema.js';
import { NimboError } from '../../lib/errors.js';

/** What /meta/records holds. */
export interface RecordsMarker {
  version: number;
  at: string;
}

/** What a migration needs besides the store: where the state dir keeps run/instance dirs, and the daemon prefix. */
export interface MigrateOptions {
  paths: Pick<StatePaths, 'run' | 'instance'>;
  prefix: string;
  log: Logger;
}

/** One migration step: the writes that take every record from version `to - 1` to `to`. */
interface Step {
  to: number;
  plan(store: Store, o: MigrateOptions): Promise<{ compares: Compare[]; ops: TxnOp[]; changed: string[] }>;
}

/** A version-1 instance record (no `v`): today's fields without driver, hostIds, desired, description. */
export type InstanceRecordV1 = Omit<InstanceRecord, 'v' | 'driver' | 'hostIds' | 'desired' | 'description'>;

/** The driver that ran a version-1 record's type. */
const DRIVER_OF = { vm: 'qemu', container: 'runc' } as const;

/**
 * A version-1 record as version 2: the driver from its type, the name-derived host ids it was made with pinned
 * (so a running instance is re-adopted untouched), desired power from its last state, autostart last-state. Pure.
 */
export function instanceV1toV2(rec: InstanceRecordV1, o: Pick<MigrateOptions, 'paths' | 'prefix'>): InstanceRecord {
  const power = rec.state === 'running' || rec.state === 'starting' ? 'running' : rec.state === 'paused' ? 'paused' : 'stopped';
  return {
    ...rec,
    v: 2,
    driver: DRIVER_OF[rec.type],
    hostIds: legacyHostIds(o.paths, o.prefix, rec.name),
    desired: { power, autostart: 'last-state' },
    description: '',
  };
}

const STEPS: Step[] = [
  {
    to: 2,
    async plan(store, o) {
      const compares: Compare[] = [];
      const ops: TxnOp[] = [];
      const changed: string[] = [];
      for (const kv of await store.list<InstanceRecordV1 & { v?: number }>(keys.allInstances)) {
        if (kv.key.split('/').length !== 3) continue; // already under a project (written by a newer daemon)
        if (kv.value.v !== undefined && kv.value.v >= 2) continue; // written by a newer daemon meanwhile: leave it
        const next = instanceV1toV2(kv.value, o);
        // Not refused here: the daemon must start so the instance can be looked at; reads name the key.
        if (!isInstanceRecordV2(next)) o.log.warn({ key: kv.key }, 'instance record does not match version 2 after its migration');
        compares.push({ key: kv.key, modRevision: kv.modRevision });
        ops.push({ type: 'put', key: kv.key, value: next });
        changed.push(kv.key);
      }
      return { compares, ops, changed };
    },
  },
  {
    to: 3,
    plan: (store) => planIntoDefaultProject(store),
  },
];

/** Kinds that moved under a project in version 3: the prefix, and how many '/'-parts an old (v2) key has. */
const SCOPED = [
  { prefix: keys.allInstances, parts: 3, tag: true },
  { prefix: keys.allSnapshots, parts: 4, tag: false },
  { prefix: keys.allVolumeMeta, parts: 4, tag: false },
  { prefix: keys.allIpam, parts: 4, tag: false },
  { prefix: keys.allNetworks, parts: 3, tag: true },
  { prefix: keys.allSecgroups, parts: 3, tag: true },
  { prefix: keys.allForwards, parts: 4, tag: true },
] as const;

/** The v3 key of a v2 key of a scoped kind: the project 'default' after the kind (/instances/web -> /instances/default/web). */
export function intoDefaultProject(key: string): string {
  const [, kind, ...rest] = key.split('/');
  return `/${kind}/${DEFAULT_PROJECT}/${rest.join('/')}`;
}

/**
 * v2 -> v3: every project-scoped record moves under the project 'default' (instances, networks, security groups
 * and forwards also get `project: 'default'` in the record, for the host-wide loops that list every project);
 * image records move to /images/public/ (platform-wide). Keys already of the v3 shape are left alone.
 */
async function planIntoDefaultProject(store: Store): Promise<{ compares: Compare[]; ops: TxnOp[]; changed: string[] }> {
  const compares: Compare[] = [];
  const ops: TxnOp[] = [];
  const changed: string[] = [];
  const move = (from: string, modRevision: number, to: string, value: unknown) => {
    compares.push({ key: from, modRevision }, { key: to, modRevision: 0 });
    ops.push({ type: 'delete', key: from }, { type: 'put', key: to, value });
    changed.push(from);
  };
  for (const kind of SCOPED) {
    for (const kv of await store.list<Record<string, unknown>>(kind.prefix)) {
      if (kv.key.split('/').length !== kind.parts) continue;
      const value = kind.tag && kv.value && typeof kv.value === 'object' ? { ...kv.value, project: DEFAULT_PROJECT } : kv.value;
      move(kv.key, kv.modRevision, intoDefaultProject(kv.key), value);
    }
  }
  for (const kv of await store.list('/images/')) {
    if (kv.key.split('/').length === 3) move(kv.key, kv.modRevision, keys.image(kv.key.slice('/images/'.length)), kv.value);
  }
  return { compares, ops, changed };
}

/** The latest record version a migration reaches. */
export const RECORDS_VERSION = STEPS[STEPS.length - 1]!.to;

/** The version the store's records are at (1 when no marker was ever written: a store from before versioning). */
export async function recordsVersion(store: Store): Promise<number> {
  return (await store.get<RecordsMarker>(keys.recordsVersion))?.value.version ?? 1;
}

/**
 * Bring every record to RECORDS_VERSION, one transaction per step; returns the versions and how many records
 * changed. A step that lost a race (another writer changed the marker or a record) is planned again.
 */
export async function migrateRecords(store: Store, o: MigrateOptions): Promise<{ from: number; to: number; changed: number }> {
  const from = await recordsVersion(store);
  if (from > RECORDS_VERSION) throw new NimboError('Internal', `the store's records are version ${from}, newer than this nimbod understands (${RECORDS_VERSION}): run a newer nimbod`);
  let changed = 0;
  for (let tries = 0; tries < 20; ) {
    const marker = await store.get<RecordsMarker>(keys.recordsVersion);
    const at = marker?.value.version ?? 1;
    const step = STEPS.find((s) => s.to === at + 1);
    if (!step) break;
    const plan = await step.plan(store, o);
    const value: RecordsMarker = { version: step.to, at: new Date().toISOString() };
    const ok = await store.txn([{ key: keys.recordsVersion, modRevision: marker?.modRevision ?? 0 }, ...plan.compares], [...plan.ops, { type: 'put', key: keys.recordsVersion, value }]);
    if (!ok) {
      tries++;
      continue;
    }
    changed += plan.changed.length;
    o.log.info({ from: at, to: step.to, records: plan.changed.length }, 'store records migrated');
  }
  const to = await recordsVersion(store);
  if (to !== RECORDS_VERSION) throw new NimboError('Internal', `store records stayed at version ${to}: the migration to ${RECORDS_VERSION} kept losing races with other writers`);
  return { from, to, changed };
}
