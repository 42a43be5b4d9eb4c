// Wire types of plans (sizes, price, class, limits) and project quotas, shared by daemon, CLI and docs.
import { Type, type Static } from '@sinclair/typebox';
import { NAME_PATTERN } from './api-constants.js';

const strict = { additionalProperties: false } as const;
const PlanName = Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 63, description: 'DNS label' });
const Count = (max: number, description: string) => Type.Integer({ minimum: 0, maximum: max, description });

/** A price per hour: a decimal string with at most 6 decimals (money is never a float). */
export const PRICE_PATTERN = '^[0-9]{1,9}(\\.[0-9]{1,6})?$';

/** Disk I/O limits of a plan's root disk (0 = unlimited). */
export const PlanDiskLimits = Type.Object(
  {
    readBps: Count(2 ** 50, 'bytes/s read (0 = unlimited; containers: at least 1 MiB/s when set)'),
    writeBps: Count(2 ** 50, 'bytes/s written (0 = unlimited)'),
    readIops: Count(10_000_000, 'read operations/s (0 = unlimited)'),
    writeIops: Count(10_000_000, 'write operations/s (0 = unlimited)'),
  },
  strict,
);
export type PlanDiskLimits = Static<typeof PlanDiskLimits>;

/** Network limits of each NIC of a plan's instances, guest's view (0 = unlimited). */
export const PlanNetLimits = Type.Object(
  { inMbit: Count(100_000, 'Mbit/s toward the guest (0 = unlimited)'), outMbit: Count(100_000, 'Mbit/s from the guest (0 = unlimited)') },
  strict,
);
export type PlanNetLimits = Static<typeof PlanNetLimits>;

/** A plan as the API shows it. */
export const Plan = Type.Object({
  name: Type.String(),
  class: Type.Union([Type.Literal('shared'), Type.Literal('dedicated')], { description: 'shared: CPU weight; dedicated: vCPUs pinned to host cores no other dedicated instance gets, memory reserved' }),
  vcpus: Type.Integer(),
  memoryMiB: Type.Integer(),
  diskGiB: Type.Integer(),
  transferGiBPerMonth: Type.Integer(),
  pricePerHour: Type.String({ description: 'decimal string, e.g. 0.0125' }),
  cpuWeight: Type.Integer({ description: 'shared plans: relative CPU weight (100 = default)' }),
  disk: PlanDiskLimits,
  network: PlanNetLimits,
  description: Type.String(),
  builtin: Type.Boolean({ description: 'seeded by nimbo at first start' }),
  createdAt: Type.String(),
});
export type Plan = Static<typeof Plan>;

/** Body of POST /api/v1/plans. */
export const PlanCreate = Type.Object(
  {
    name: PlanName,
    class: Type.Optional(Type.Union([Type.Literal('shared'), Type.Literal('dedicated')], { default: 'shared' })),
    vcpus: Type.Integer({ minimum: 1, maximum: 64 }),
    memoryMiB: Type.Integer({ minimum: 64, maximum: 262144 }),
    diskGiB: Type.Integer({ minimum: 1, maximum: 16384 }),
    transferGiBPerMonth: Type.Optional(Count(10_000_000, 'GiB of traffic per month included (0 = none counted)')),
    pricePerHour: Type.Optional(Type.String({ pattern: PRICE_PATTERN, maxLength: 16, description: 'decimal string, e.g. 0.0125 (default 0)' })),
    cpuWeight: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, description: 'shared plans: relative CPU weight (default 100)' })),
    disk: Type.Optional(Type.Partial(PlanDiskLimits)),
    network: Type.Optional(Type.Partial(PlanNetLimits)),
    description: Type.Optional(Type.String({ maxLength: 500 })),
  },
  strict,
);
export type PlanCreate = Static<typeof PlanCreate>;

/** Body of PATCH /api/v1/plans/{name}: fields given are changed (instances launched earlier keep what they got). */
export const PlanPatch = Type.Partial(Type.Omit(PlanCreate, ['name']), strict);
export type PlanPatch = Static<typeof PlanPatch>;

/** What a project's quota counts. */
export const QUOTA_FIELDS = ['instances', 'vcpus', 'memoryMiB', 'diskGiB', 'networks', 'floatingIps', 'snapshots'] as const;
/** One of the counted resources. */
export type QuotaField = (typeof QUOTA_FIELDS)[number];

const QuotaLimit = Type.Union([Type.Integer({ minimum: 0, maximum: 1e12 }), Type.Null()], { description: 'null = unlimited' });
/** A project's limits (null or absent = unlimited). */
export const QuotaLimits = Type.Object(Object.fromEntries(QUOTA_FIELDS.map((f) => [f, Type.Optional(QuotaLimit)])) as Record<QuotaField, typeof QuotaLimit>, strict);
export type QuotaLimits = Partial<Record<QuotaField, number | null>>;

/** A project's quota and what it uses now. */
export const Quota = Type.Object({
  project: Type.String(),
  limits: Type.Object(Object.fromEntries(QUOTA_FIELDS.map((f) => [f, QuotaLimit])) as Record<QuotaField, typeof QuotaLimit>),
  usage: Type.Object(Object.fromEntries(QUOTA_FIELDS.map((f) => [f, Type.Integer()])) as Record<QuotaField, ReturnType<typeof Type.Integer>>),
});
export type Quota = { project: string; limits: Record<QuotaField, number | null>; usage: Record<QuotaField, number> };
