// The one layout of nimbo's store keys. Every service builds its keys here, so moving a kind of record
// (e.g. under a project, once there are projects) is a change of this file and a record migration.
// Instance-scoped keys take a `project` that defaults to 'default'; the default project maps to the
// keys nimbo has always used (/instances/NAME, ...), so no migration is needed until a second project exists.

/** The project every record belongs to until projects exist. */
export const DEFAULT_PROJECT = 'default';

/** Refuse a project other than the default one: its key layout is not decided yet (kept here, in one place). */
function projectRoot(project: string): string {
  if (project !== DEFAULT_PROJECT) throw new Error(`project ${project}: only the default project exists`);
  return '';
}

/** The text of `key` after `prefix` (e.g. the NAME of /instances/NAME); undefined when it does not start so. */
export function keyTail(prefix: string, key: string): string | undefined {
  return key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
}

/** Store keys and prefixes, by kind of record. */
export const keys = {
  /** Prefix of every instance record of a project. */
  instances: (project = DEFAULT_PROJECT) => `${projectRoot(project)}/instances/`,
  /** An instance record (keyed by its name; host objects come from its UUID, see core/host-ids.ts). */
  instance: (name: string, project = DEFAULT_PROJECT) => `${projectRoot(project)}/instances/${name}`,
  /** Prefix of every instance snapshot record. */
  allSnapshots: (project = DEFAULT_PROJECT) => `${projectRoot(project)}/snapshots/`,
  /** Prefix of the snapshot records of one instance. */
  snapshots: (instance: string, project = DEFAULT_PROJECT) => `${projectRoot(project)}/snapshots/${instance}/`,
  /** One snapshot record of an instance. */
  snapshot: (instance: string, name: string, project = DEFAULT_PROJECT) => `${projectRoot(project)}/snapshots/${instance}/${name}`,

  /** Prefix of every volume's metadata (attachedTo, limits). */
  allVolumeMeta: '/volumes/',
  /** Prefix of the volume metadata of one pool. */
  volumeMetaOf: (pool: string) => `/volumes/${pool}/`,
  /** Metadata of one volume. */
  volumeMeta: (pool: string, volume: string) => `/volumes/${pool}/${volume}`,
  /** Prefix of every storage pool. */
  pools: '/pools/',
  /** A storage pool. */
  pool: (name: string) => `/pools/${name}`,

  /** Prefix of every address allocation. */
  allIpam: '/ipam/',
  /** Prefix of the address allocations of one network. */
  ipam: (network: string) => `/ipam/${network}/`,
  /** One allocated address. */
  ipamEntry: (network: string, ip: string) => `/ipam/${network}/${ip}`,
  /** Prefix of every network. */
  networks: '/networks/',
  /** A network. */
  network: (name: string) => `/networks/${name}`,
  /** Prefix of every security group. */
  secgroups: '/secgroups/',
  /** A security group. */
  secgroup: (name: string) => `/secgroups/${name}`,
  /** Prefix of every port forward and floating IP. */
  allForwards: '/forwards/',
  /** Prefix of the forwards of one network. */
  forwards: (network: string) => `/forwards/${network}/`,
  /** One forward. */
  forward: (network: string, id: string) => `/forwards/${network}/${id}`,

  /** Prefix of the container id-range slots. */
  idmaps: '/idmaps/',
  /** One container id-range slot ({ owner }). */
  idmap: (slot: number) => `/idmaps/${slot}`,
  /** Prefix of the QEMU uid slots. */
  vmids: '/vmids/',
  /** One QEMU uid slot ({ owner }). */
  vmid: (slot: number) => `/vmids/${slot}`,

  /** Prefix of every image record. */
  images: '/images/',
  /** An image record. */
  image: (name: string) => `/images/${name}`,
  /** Prefix of every operation. */
  operations: '/operations/',
  /** One operation. */
  operation: (id: string) => `/operations/${id}`,
  /** Prefix of every operation lock. */
  locks: '/locks/',
  /** The lock of an operation target (see lockTarget). */
  lock: (target: string) => `/locks/${target}`,
  /** Prefix of every API token. */
  tokens: '/tokens/',
  /** One API token (its hash). */
  token: (id: string) => `/tokens/${id}`,

  /** The record schema version the store was migrated to (core/records/migrate.ts). */
  recordsVersion: '/meta/records',
  /** The boot id of a host when its daemon last started (a change means the host rebooted). */
  hostBoot: (host = 'local') => `/hosts/${host}/boot`,

  /** Prefix of every webhook (kind first, then project). */
  allWebhooks: '/webhooks/',
  /** Prefix of the webhooks of one project. */
  webhooks: (project: string) => `/webhooks/${project}/`,
  /** One webhook. */
  webhook: (project: string, id: string) => `/webhooks/${project}/${id}`,
  /** The delivery log of one webhook (a capped list). */
  webhookDeliveries: (id: string) => `/webhook-deliveries/${id}`,
  /** Prefix of the metering checkpoints (one per instance UUID: last sample, counters, open hour). */
  meterCheckpoints: '/meter/checkpoints/',
  /** The metering checkpoint of one instance. */
  meterCheckpoint: (uuid: string) => `/meter/checkpoints/${uuid}`,
  /** Prefix of the monthly usage rollups of a project and month (YYYY-MM). */
  usageMonth: (project: string, month: string) => `/usage/${project}/${month}/`,
  /** The monthly usage rollup of one instance. */
  usageRow: (project: string, month: string, uuid: string) => `/usage/${project}/${month}/${uuid}`,
} as const;

/** Operation lock targets (what OperationManager locks; the store key is keys.lock(target)). */
export const lockTarget = {
  /** An instance, by its UUID: a rename does not change which lock guards it. */
  instance: (uuid: string) => `instance/${uuid}`,
  volume: (pool: string, volume: string) => `volume/${pool}/${volume}`,
  pool: (name: string) => `pool/${name}`,
  network: (name: string) => `network/${name}`,
} as const;
