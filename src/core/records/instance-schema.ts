// The stored instance record, version 2, as one TypeBox schema: what core reads from the store is checked
// against it, so a record a migration missed (or a hand-edited store) fails loudly, naming its key, instead of
// reaching a driver half-formed. Unknown extra fields are allowed: a newer daemon may add optional ones.
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { NimboError } from '../../lib/errors.js';
import { InstanceState, Labels, Nic } from '../../shared/api-types.js';
import { GUEST_ARCHES } from '../../shared/arch-types.js';
import type { InstanceRecord } from '../instance-record.js';

/** The record version this daemon writes and reads. */
export const INSTANCE_RECORD_VERSION = 2;

/** Autostart policies: what a host reboot does to an instance's desired power state. */
export const AUTOSTART = ['last-state', 'always', 'never'] as const;
/** An autostart policy. */
export type Autostart = (typeof AUTOSTART)[number];

const Int = (min = 0) => Type.Integer({ minimum: min });
const VolumeRef = Type.Object({ pool: Type.String({ minLength: 1 }), volume: Type.String({ minLength: 1 }) });

const HostIdsSchema = Type.Object({
  runDir: Type.String({ minLength: 2, pattern: '^/' }),
  instanceDir: Type.String({ minLength: 2, pattern: '^/' }),
  runtimeId: Type.Optional(Type.String({ minLength: 1 })),
  cgroup: Type.Optional(Type.String({ minLength: 2, pattern: '^/' })),
});

const ContainerInfoSchema = Type.Object({
  kind: Type.Union([Type.Literal('system'), Type.Literal('app')]),
  hostId: Int(1),
  netns: Type.String({ minLength: 1 }),
  stopSignal: Type.String({ minLength: 1 }),
  pids: Int(1),
  cpuWeight: Type.Optional(Int(1)),
  swapBytes: Type.Optional(Int()),
  disk: Type.Optional(Type.Object({ readBps: Type.Optional(Int()), writeBps: Type.Optional(Int()), readIops: Type.Optional(Int()), writeIops: Type.Optional(Int()) })),
  oomKills: Type.Optional(Int()),
  app: Type.Optional(
    Type.Object({
      args: Type.Array(Type.String()),
      env: Type.Array(Type.String()),
      cwd: Type.String(),
      uid: Int(),
      gid: Int(),
      restart: Type.Union([Type.Literal('never'), Type.Literal('on-failure'), Type.Literal('always')]),
    }),
  ),
  exitCode: Type.Optional(Type.Integer()),
});

/** The version-2 instance record (key /instances/NAME). */
export const InstanceRecordV2 = Type.Object({
  v: Type.Literal(INSTANCE_RECORD_VERSION),
  name: Type.String({ minLength: 1, maxLength: 63 }),
  uuid: Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' }),
  type: Type.Union([Type.Literal('vm'), Type.Literal('container')]),
  driver: Type.String({ minLength: 1 }),
  hostIds: HostIdsSchema,
  desired: Type.Object({
    power: Type.Union([Type.Literal('running'), Type.Literal('stopped'), Type.Literal('paused')]),
    autostart: Type.Union(AUTOSTART.map((a) => Type.Literal(a))),
  }),
  description: Type.String({ maxLength: 1024 }),
  qemuId: Type.Optional(Int()),
  container: Type.Optional(ContainerInfoSchema),
  image: Type.String({ minLength: 1 }),
  cpus: Int(1),
  memory: Int(1),
  maxCpus: Type.Optional(Int(1)),
  maxMemory: Type.Optional(Int(1)),
  disk: Int(),
  sshKeys: Type.Array(Type.String()),
  state: InstanceState,
  accelerator: Type.String(),
  arch: Type.Optional(Type.Union(GUEST_ARCHES.map((a) => Type.Literal(a)))),
  nics: Type.Array(Nic),
  root: Type.Optional(VolumeRef),
  volumes: Type.Optional(Type.Array(Type.Object({ pool: Type.String({ minLength: 1 }), volume: Type.String({ minLength: 1 }), path: Type.Optional(Type.String()) }))),
  snapshotSchedule: Type.Optional(Type.Object({ cron: Type.String(), expiry: Type.Optional(Type.String()), stateful: Type.Optional(Type.Boolean()), lastRun: Type.String() })),
  createdAt: Type.String(),
  error: Type.Optional(Type.String()),
  labels: Type.Optional(Labels),
  /** The driver's own part (its plan()'s result); opaque to core. */
  driverConfig: Type.Optional(Type.Unknown()),
  oomKills: Type.Optional(Int()),
  exitCode: Type.Optional(Type.Integer()),
  plan: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
  slice: Type.Optional(Type.Object({ cores: Type.Array(Int(), { minItems: 1 }) })),
  /** cloud-init user-data and vendor-data given at launch (served by the metadata service and the seed). */
  userData: Type.Optional(Type.String({ maxLength: 65536 })),
  vendorData: Type.Optional(Type.String({ maxLength: 65536 })),
  rescue: Type.Optional(Type.Object({ image: Type.String({ minLength: 1 }), root: VolumeRef, since: Type.String() })),
  passwordHash: Type.Optional(Type.String({ pattern: '^\\$6\\$' })),
});
/** The static type of a version-2 record. */
export type InstanceRecordV2 = Static<typeof InstanceRecordV2>;

const checker = TypeCompiler.Compile(InstanceRecordV2);

/** True when `value` is a well-formed version-2 record. */
export function isInstanceRecordV2(value: unknown): value is InstanceRecordV2 {
  return checker.Check(value);
}

/**
 * The record stored at `key`, checked against the version-2 schema; an Internal error naming the key and the
 * first mismatch otherwise (a record a migration missed, or a store edited by hand).
 */
export function checkInstanceRecord(key: string, value: unknown): InstanceRecord & InstanceRecordV2 {
  if (checker.Check(value)) return value as InstanceRecord & InstanceRecordV2;
  const first = checker.Errors(value).First();
  const where = first ? `${first.path || '/'}: ${first.message}` : 'unknown mismatch';
  throw new NimboError('Internal', `stored instance record ${key} does not match record version ${INSTANCE_RECORD_VERSION} (${where})`, { key, path: first?.path });
}
