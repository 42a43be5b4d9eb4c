import { Type, type Static } from '@sinclair/typebox';
import { Name, Size } from './api-types.js';

const strict = { additionalProperties: false } as const;
const Format = Type.Union([Type.Literal('qcow2'), Type.Literal('raw')]);
const Kind = Type.Union([Type.Literal('block'), Type.Literal('filesystem')]);

/** Per-volume I/O limits (0 = unlimited), applied live through QEMU's throttling. */
export const IoLimits = Type.Object(
  {
    iopsRead: Type.Integer({ minimum: 0, maximum: 1_000_000_000 }),
    iopsWrite: Type.Integer({ minimum: 0, maximum: 1_000_000_000 }),
    bytesRead: Type.Integer({ minimum: 0, maximum: 1e15 }),
    bytesWrite: Type.Integer({ minimum: 0, maximum: 1e15 }),
  },
  strict,
);
export type IoLimits = Static<typeof IoLimits>;

/** A storage pool as the API shows it. */
export const Pool = Type.Object({
  name: Type.String(),
  driver: Type.String(),
  path: Type.String(),
  format: Type.String({ description: 'format of block volumes (qcow2 or raw)' }),
  size: Type.Integer(),
  used: Type.Integer(),
  available: Type.Integer(),
  provisioned: Type.Integer({ description: 'sum of volume virtual sizes' }),
  overProvisioning: Type.Number({ description: 'provisioned / size' }),
  volumes: Type.Integer(),
  capabilities: Type.Record(Type.String(), Type.Unknown()),
  createdAt: Type.String(),
});
export type Pool = Static<typeof Pool>;

/** Body of POST /storage/pools. */
export const PoolCreate = Type.Object(
  {
    name: Name,
    driver: Type.Union([Type.Literal('dir'), Type.Literal('btrfs')]),
    path: Type.Optional(Type.String({ minLength: 2, maxLength: 4096, pattern: '^/', description: 'absolute directory (default: STATE/pools/NAME)' })),
    format: Type.Optional(Format),
  },
  strict,
);
export type PoolCreate = Static<typeof PoolCreate>;

/** A volume as the API shows it. */
export const Volume = Type.Object({
  name: Type.String(),
  pool: Type.String(),
  kind: Type.String(),
  format: Type.Optional(Type.String()),
  size: Type.Integer({ description: 'virtual size (block) or quota (filesystem), bytes' }),
  allocated: Type.Integer(),
  snapshots: Type.Integer(),
  linked: Type.Boolean(),
  attachedTo: Type.Union([Type.String(), Type.Null()]),
  limits: IoLimits,
});
export type Volume = Static<typeof Volume>;

/** Body of POST /storage/pools/{pool}/volumes. */
export const VolumeCreate = Type.Object({ name: Name, size: Size, kind: Type.Optional(Kind) }, strict);
export type VolumeCreate = Static<typeof VolumeCreate>;

/** Body of PATCH /storage/pools/{pool}/volumes/{volume}: grow, rename and/or set I/O limits. */
export const VolumePatch = Type.Object(
  { size: Type.Optional(Size), name: Type.Optional(Name), limits: Type.Optional(Type.Partial(IoLimits)) },
  { ...strict, minProperties: 1 },
);
export type VolumePatch = Static<typeof VolumePatch>;

/** A volume snapshot. */
export const Snapshot = Type.Object({ name: Type.String(), createdAt: Type.String(), vmStateBytes: Type.Integer() });
export type Snapshot = Static<typeof Snapshot>;

/** Body of POST .../volumes/{volume}/snapshots. */
export const SnapshotCreate = Type.Object({ name: Name }, strict);
export type SnapshotCreate = Static<typeof SnapshotCreate>;

/** Body of POST .../volumes/{volume}/clone. */
export const VolumeClone = Type.Object(
  { target: Name, mode: Type.Optional(Type.Union([Type.Literal('linked'), Type.Literal('full')])), fromSnapshot: Type.Optional(Name) },
  strict,
);
export type VolumeClone = Static<typeof VolumeClone>;

/** Body of POST /storage/pools/{pool}/import (a qcow2/raw file on the daemon's host). */
export const VolumeImport = Type.Object(
  { name: Name, path: Type.String({ minLength: 2, maxLength: 4096, pattern: '^/' }), format: Type.Optional(Format) },
  strict,
);
export type VolumeImport = Static<typeof VolumeImport>;

/** Body of POST .../volumes/{volume}/export (a new file on the daemon's host). */
export const VolumeExport = Type.Object({ path: Type.String({ minLength: 2, maxLength: 4096, pattern: '^/' }), format: Type.Optional(Format) }, strict);
export type VolumeExport = Static<typeof VolumeExport>;

/** Body of POST /instances/{name}/volumes (attach; hot-plugged when the VM runs). */
export const VolumeAttach = Type.Object(
  {
    pool: Name,
    volume: Name,
    path: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'containers: the absolute path a filesystem volume is mounted at' })),
  },
  strict,
);
export type VolumeAttach = Static<typeof VolumeAttach>;

/** An instance snapshot as the API shows it. */
export const InstanceSnapshot = Type.Object({
  name: Type.String(),
  instance: Type.String(),
  createdAt: Type.String(),
  stateful: Type.Boolean(),
  kind: Type.Optional(Type.Union([Type.Literal('qcow2'), Type.Literal('volume')], { description: 'qcow2: internal snapshots of VM disks; volume: pool snapshots of container volumes' })),
  disks: Type.Array(Type.Object({ id: Type.String(), path: Type.String() })),
  vmDisks: Type.Optional(Type.Array(Type.String())),
  consistency: Type.Optional(Type.Union([Type.Literal('application'), Type.Literal('crash')], { description: "a disk-only snapshot of a running VM: application when its guest agent froze the filesystems, else crash" })),
  frozenMs: Type.Optional(Type.Integer({ description: "consistency application: how long the guest's filesystems were frozen (ms)" })),
  expiresAt: Type.Optional(Type.String()),
  scheduled: Type.Optional(Type.Boolean()),
});
export type InstanceSnapshot = Static<typeof InstanceSnapshot>;

/** Body of POST /instances/{name}/snapshots. */
export const InstanceSnapshotCreate = Type.Object(
  { name: Type.Optional(Name), stateful: Type.Optional(Type.Boolean()), expiry: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,4}[mhdw]$' })) },
  strict,
);
export type InstanceSnapshotCreate = Static<typeof InstanceSnapshotCreate>;

/** Body of PUT /instances/{name}/snapshot-schedule. */
export const SnapshotScheduleSet = Type.Object(
  {
    cron: Type.String({ minLength: 1, maxLength: 100, description: '5-field cron (UTC) or @hourly, @daily, @weekly, @monthly' }),
    expiry: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,4}[mhdw]$' })),
    stateful: Type.Optional(Type.Boolean()),
  },
  strict,
);
export type SnapshotScheduleSet = Static<typeof SnapshotScheduleSet>;
