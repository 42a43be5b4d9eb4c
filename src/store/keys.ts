// The one layout of nimbo's store keys. Every service builds its keys here, so moving a kind of record is a
// change of this file and a record migration (core/records/migrate.ts).
//
// Layout: kind first, then project, then the record's own path. A project's records of one kind share the
// prefix `/<kind>/<project>/`; every project's share `/<kind>/` (the all* prefixes, for host-wide loops such as
// the reconciler). Project-scoped: instances, snapshots, networks, ipam, secgroups, forwards, volume metadata
// and private images. Host-global: pools, idmaps, vmids, locks, tokens, the records marker, host boot ids,
// and public (built-in or imported by an operator) images at /images/public/<name>. Operations keep
// /operations/<id> (ids are UUIDs) and carry their project in the record. IPAM is keyed by the network's
// project and name, like the network itself.

/** The project that always exists; records from before projects were migrated into it. */
export const DEFAULT_PROJECT = 'default';

/** A project's key segment; refuses what would escape its level of the layout (a project name never has a '/'). */
function seg(project: string): string {
  if (typeof project !== 'string' || project === '' || project.includes('/')) throw new Error(`store key: bad project ${JSON.stringify(project)}`);
  return project;
}

/** The text of `key` after `prefix` (e.g. the NAME of /instances/P/NAME); undefined when it does not start so. */
export function keyTail(prefix: string, key: string): string | undefined {
  return key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
}

/** The project segment of a project-scoped key (`/<kind>/<project>/...`); undefined for a key of another shape. */
export function projectOfKey(key: string): string | undefined {
  const parts = key.split('/');
  return parts.length >= 4 && parts[0] === '' && parts[2] ? parts[2] : undefined;
}

/** Store keys and prefixes, by kind of record. */
export const keys = {
  /** Prefix of every instance record of every project (host-wide loops: reconciler, id slots). */
  allInstances: '/instances/',
  /** Prefix of the instance records of one project. */
  instances: (project: string) => `/instances/${seg(project)}/`,
  /** An instance record (keyed by project and name; host objects come from its UUID, see core/host-ids.ts). */
  instance: (project: string, name: string) => `/instances/${seg(project)}/${name}`,
  /** Prefix of every instance snapshot record of every project. */
  allSnapshots: '/snapshots/',
  /** Prefix of the snapshot records of one instance. */
  snapshots: (project: string, instance: string) => `/snapshots/${seg(project)}/${instance}/`,
  /** One snapshot record of an instance. */
  snapshot: (project: string, instance: string, name: string) => `/snapshots/${seg(project)}/${instance}/${name}`,

  /** Prefix of every volume's metadata (attachedTo, limits), every project. */
  allVolumeMeta: '/volumes/',
  /** Prefix of one project's volume metadata. */
  volumeMetaOfProject: (project: string) => `/volumes/${seg(project)}/`,
  /** Prefix of the volume metadata of one pool in a project. */
  volumeMetaOf: (project: string, pool: string) => `/volumes/${seg(project)}/${pool}/`,
  /** Metadata of one volume. */
  volumeMeta: (project: string, pool: string, volume: string) => `/volumes/${seg(project)}/${pool}/${volume}`,
  /** Prefix of every storage pool (host-global). */
  pools: '/pools/',
  /** A storage pool. */
  pool: (name: string) => `/pools/${name}`,

  /** Prefix of every address allocation of every project. */
  allIpam: '/ipam/',
  /** Prefix of one project's address allocations. */
  ipamOfProject: (project: string) => `/ipam/${seg(project)}/`,
  /** Prefix of the address allocations of one network. */
  ipam: (project: string, network: string) => `/ipam/${seg(project)}/${network}/`,
  /** One allocated address. */
  ipamEntry: (project: string, network: string, ip: string) => `/ipam/${seg(project)}/${network}/${ip}`,
  /** Prefix of every network of every project. */
  allNetworks: '/networks/',
  /** Prefix of one project's networks. */
  networks: (project: string) => `/networks/${seg(project)}/`,
  /** A network. */
  network: (project: string, name: string) => `/networks/${seg(project)}/${name}`,
  /** Prefix of every security group of every project. */
  allSecgroups: '/secgroups/',
  /** Prefix of one project's security groups. */
  secgroups: (project: string) => `/secgroups/${seg(project)}/`,
  /** A security group. */
  secgroup: (project: string, name: string) => `/secgroups/${seg(project)}/${name}`,
  /** Prefix of every port forward and floating IP of every project. */
  allForwards: '/forwards/',
  /** Prefix of one project's forwards. */
  forwardsOfProject: (project: string) => `/forwards/${seg(project)}/`,
  /** Prefix of the forwards of one network. */
  forwards: (project: string, network: string) => `/forwards/${seg(project)}/${network}/`,
  /** One forward. */
  forward: (project: string, network: string, id: string) => `/forwards/${seg(project)}/${network}/${id}`,

  /** Prefix of the container id-range slots (host-global). */
  idmaps: '/idmaps/',
  /** One container id-range slot ({ owner }). */
  idmap: (slot: number) => `/idmaps/${slot}`,
  /** Prefix of the QEMU uid slots (host-global). */
  vmids: '/vmids/',
  /** One QEMU uid slot ({ owner }). */
  vmid: (slot: number) => `/vmids/${slot}`,
  /** Prefix of the metadata service's per-NIC ports. */
  metadataPorts: '/metadata-ports/',
  /** One metadata port ({ owner: instance UUID, nic }). */
  metadataPort: (port: number) => `/metadata-ports/${port}`,

  /** Prefix of the public image records (platform-wide, readable by every project). */
  images: '/images/public/',
  /** A public image record. */
  image: (name: string) => `/images/public/${name}`,
  /** Prefix of one project's private images. */
  privateImages: (project: string) => `/images/${seg(project) === 'public' ? '-public' : project}/`,
  /** A private image of a project. */
  privateImage: (project: string, name: string) => `/images/${seg(project) === 'public' ? '-public' : project}/${name}`,
  /** Prefix of the image remotes (other daemons' image servers; host-global, admin-managed). */
  imageRemotes: '/image-remotes/',
  /** One image remote. */
  imageRemote: (name: string) => `/image-remotes/${name}`,
  /** Prefix of every operation. */
  operations: '/operations/',
  /** One operation (its record carries its project). */
  operation: (id: string) => `/operations/${id}`,
  /** Prefix of every operation lock. */
  locks: '/locks/',
  /** The lock of an operation target (see lockTarget). */
  lock: (target: string) => `/locks/${target}`,
  /** Prefix of every API token. */
  tokens: '/tokens/',
  /** One API token (its hash). */
  token: (id: string) => `/tokens/${id}`,
  /** Prefix of every user. */
  users: '/users/',
  /** A user, by its name (names never change; the record holds the UUID). */
  user: (name: string) => `/users/${name}`,
  /** Prefix of every login session. */
  sessions: '/sessions/',
  /** A login session, by the SHA-256 of its cookie (never the cookie itself). */
  session: (sha256: string) => `/sessions/${sha256}`,
  /** Prefix of every project. */
  projects: '/projects/',
  /** A project, by its name. */
  project: (name: string) => `/projects/${name}`,
  /** Prefix of every membership of every project. */
  allMembers: '/members/',
  /** Prefix of the memberships of one project. */
  members: (project: string) => `/members/${project}/`,
  /** One user's membership (role) in a project. */
  member: (project: string, user: string) => `/members/${project}/${user}`,
  /** Prefix of the index of one user's memberships (written with each membership: a request reads only its user's). */
  userProjects: (user: string) => `/user-projects/${user}/`,
  /** The index entry of a membership ({ role }). */
  userProject: (user: string, project: string) => `/user-projects/${user}/${project}`,

  /** Prefix of every plan (platform-wide). */
  plans: '/plans/',
  /** A plan: sizes, price, class and limits (core/plans). */
  plan: (name: string) => `/plans/${name}`,
  /** Marks that the built-in plans were seeded once (deleting one keeps it deleted). */
  plansSeeded: '/meta/plans-seeded',
  /** Prefix of every project's quota. */
  quotas: '/quotas/',
  /** A project's quota (limits set by an admin; absent = unlimited). */
  quota: (project: string) => `/quotas/${project}`,
  /** Prefix of every project's usage counters. */
  allQuotaUsage: '/quota-usage/',
  /** A project's usage counters (changed only by compare-and-swap, with the record that uses them). */
  quotaUsage: (project: string) => `/quota-usage/${project}`,
  /** What one instance was charged ({ project, counts }), released with its record. */
  quotaCharge: (uuid: string) => `/quota-charges/${uuid}`,
  /** The dedicated cores and reserved memory of a host's dedicated instances (core/plans/slices.ts). */
  hostSlices: (host = 'local') => `/hosts/${host}/slices`,

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
  /** Prefix of every backup datastore (host-global: an operator adds them; backups inside carry their project). */
  backupStores: '/backup-stores/',
  /** One backup datastore (name, path, id, key fingerprint). */
  backupStore: (name: string) => `/backup-stores/${name}`,
  /** Prefix of every backup job (schedule + retention) of every project. */
  allBackupJobs: '/backup-jobs/',
  /** Prefix of the backup jobs of one project. */
  backupJobs: (project: string) => `/backup-jobs/${seg(project)}/`,
  /** One backup job of a project. */
  backupJob: (project: string, name: string) => `/backup-jobs/${seg(project)}/${name}`,
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
  /** A volume of a project (the same name in two projects is two volumes). */
  volume: (project: string, pool: string, volume: string) => `volume/${seg(project)}/${pool}/${volume}`,
  pool: (name: string) => `pool/${name}`,
  /** A backup datastore (verify, prune and GC of the whole store; backups take it shared through their own lock). */
  backupStore: (name: string) => `backup-store/${name}`,
  /** A network of a project. */
  network: (project: string, name: string) => `network/${seg(project)}/${name}`,
} as const;
