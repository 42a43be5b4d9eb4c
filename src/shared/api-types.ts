import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { NAME_PATTERN, SIZE_PATTERN } from './api-constants.js';
import { ImageRef } from './image-fetch-types.js';

export { ACTIONS, NAME_PATTERN, SIZE_PATTERN, type ActionName } from './api-constants.js';
import { Arch } from './arch-schema.js';
export { Arch };

/** A size: bytes as an integer, or a string with a unit (512MiB, 2G, 10GiB). */
export const Size = Type.Union([Type.Integer({ minimum: 1 }), Type.String({ pattern: SIZE_PATTERN, description: 'size with unit, e.g. 512MiB or 2G' })]);

export const Name = Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 63, description: 'DNS label' });

const strict = { additionalProperties: false } as const;

/** Free KEY=VALUE labels of an instance (set at launch; filter with nimbo list --filter label.KEY=VALUE). */
export const Labels = Type.Record(Type.String({ minLength: 1, maxLength: 63 }), Type.String({ maxLength: 255 }), {
  maxProperties: 64,
  description: 'keys: 1-63 of a-z 0-9 . _ / -, starting and ending with a letter or digit; values: up to 255 characters',
});

/** What a host reboot does to an instance: last-state (as it was), always (start it), never (leave it stopped). */
export const Autostart = Type.Union([Type.Literal('last-state'), Type.Literal('always'), Type.Literal('never')], {
  description: 'after a host reboot: last-state (default) brings back what ran, always starts it, never leaves it stopped',
});

/** Body of POST /api/v1/instances. */
export const InstanceCreate = Type.Object(
  {
    name: Name,
    image: ImageRef,
    pool: Type.Optional(Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 63, description: 'storage pool of the root volume (default: default)' })),
    type: Type.Optional(Type.Union([Type.Literal('vm'), Type.Literal('container')], { description: 'vm (default) or a system container' })),
    arch: Type.Optional({ ...Arch, description: "VMs: the guest CPU architecture (default: the image's, else x86_64); another than the host's runs under TCG emulation" }),
    pids: Type.Optional(Type.Integer({ minimum: 16, maximum: 1000000, description: 'containers: most processes (default 2048)' })),
    cpuWeight: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, description: 'containers: relative CPU weight (default 100)' })),
    swap: Type.Optional(Size),
    diskReadBps: Type.Optional(Size),
    diskWriteBps: Type.Optional(Size),
    diskReadIops: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000000, description: "containers: read operations per second on the root volume's disk" })),
    diskWriteIops: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000000, description: "containers: write operations per second on the root volume's disk" })),
    app: Type.Optional(
      Type.Object(
        {
          entrypoint: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 256 })),
          cmd: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 256 })),
          env: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*=', maxLength: 8192 }), { maxItems: 256 })),
          workingDir: Type.Optional(Type.String({ pattern: '^/', maxLength: 4096 })),
          user: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
          restart: Type.Optional(Type.Union([Type.Literal('never'), Type.Literal('on-failure'), Type.Literal('always')], { default: 'never' })),
        },
        { additionalProperties: false, description: "an application container from an OCI image: the image's entrypoint/cmd/env/workdir/user, overridable" },
      ),
    ),
    cpus: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
    memory: Type.Optional(Size),
    maxCpus: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: 'VMs: most vCPUs a live resize may add up to (default: cpus, no room)' })),
    maxMemory: Type.Optional({ ...Size, description: 'VMs: most memory a live resize may add up to, e.g. 4GiB (default: memory, no room)' }),
    disk: Type.Optional(Size),
    iso: Type.Optional(Type.Boolean({ description: 'VMs: image is an ISO (type iso) to install from: an empty root disk of `disk` (default 8GiB), the ISO in a CD-ROM drive booted first, no cloud-init' })),
    plan: Type.Optional(Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 63, description: 'a plan (nimbo plan list): its vCPUs, memory, disk and limits; sizes given too must agree' })),
    labels: Type.Optional(Labels),
    sshKeys: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 16384 }), { maxItems: 32 })),
    userData: Type.Optional(Type.String({ minLength: 1, maxLength: 65536, description: 'cloud-init user-data (cloud-config, a #! script, MIME multipart); at most 64 KiB; served by the metadata service and the seed' })),
    vendorData: Type.Optional(Type.String({ minLength: 1, maxLength: 65536, description: 'cloud-init vendor-data; at most 64 KiB' })),
    start: Type.Optional(Type.Boolean({ default: true })),
    firmware: Type.Optional(Type.Union([Type.Literal('bios'), Type.Literal('uefi')], { description: 'VMs: bios (SeaBIOS, the default) or uefi (OVMF, with its own NVRAM vars file)' })),
    secureBoot: Type.Optional(Type.Boolean({ description: 'VMs with uefi: Secure Boot on (Microsoft keys enrolled, enforced)' })),
    tpm: Type.Optional(Type.Boolean({ description: 'VMs: an emulated TPM 2.0 (swtpm) whose state is kept per VM' })),
    nics: Type.Optional(
      Type.Array(
        Type.Object(
          {
            network: Name,
            address: Type.Optional(Type.String({ minLength: 7, maxLength: 15 })),
            securityGroups: Type.Optional(Type.Array(Name, { maxItems: 16 })),
            ingress: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.String({ minLength: 1, maxLength: 20 })])),
            egress: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.String({ minLength: 1, maxLength: 20 })])),
          },
          strict,
        ),
        { minItems: 1, maxItems: 8, description: 'NICs in order (eth0 first); default: one NIC on the default network' },
      ),
    ),
  },
  strict,
);
export type InstanceCreate = Static<typeof InstanceCreate>;

export const InstanceState = Type.Union(
  ['creating', 'starting', 'running', 'stopping', 'stopped', 'paused', 'error', 'rescue'].map((s) => Type.Literal(s)),
);
/** 'rescue': running a rescue system (POST /instances/{name}/actions rescue); only views show it, records keep 'running'. */
export type InstanceState = 'creating' | 'starting' | 'running' | 'stopping' | 'stopped' | 'paused' | 'error' | 'rescue';

export const Nic = Type.Object({
  name: Type.String(),
  network: Type.String(),
  mac: Type.String(),
  address: Type.String(),
  ipv6: Type.Optional(Type.String()),
  tap: Type.String(),
  securityGroups: Type.Optional(Type.Array(Type.String())),
  ingressBps: Type.Optional(Type.Integer({ description: 'bandwidth limit toward the guest, bits/s (0 = none)' })),
  egressBps: Type.Optional(Type.Integer({ description: 'bandwidth limit from the guest, bits/s (0 = none)' })),
  hotplug: Type.Optional(Type.Boolean({ description: 'plugged on a hot-plug port (can be detached live)' })),
  counters: Type.Optional(
    Type.Object({ rxBytes: Type.Integer(), rxPackets: Type.Integer(), txBytes: Type.Integer(), txPackets: Type.Integer() }, { description: "guest's point of view" }),
  ),
});
export type Nic = Static<typeof Nic>;

/** What a running VM's guest agent reports (GET /instances/{name} only). */
export const GuestAgentInfo = Type.Object(
  {
    available: Type.Boolean({ description: 'a guest agent (qemu-ga) answered' }),
    version: Type.Optional(Type.String()),
    interfaces: Type.Optional(Type.Array(
      Type.Object({
        name: Type.String(),
        mac: Type.Optional(Type.String()),
        addresses: Type.Array(Type.Object({ family: Type.Union([Type.Literal('ipv4'), Type.Literal('ipv6')]), address: Type.String(), prefix: Type.Integer() }), { maxItems: 64 }),
      }),
      { maxItems: 64, description: "the guest's interfaces and addresses as the guest reports them (loopback left out)" },
    )),
  },
  { description: 'running VMs, in the single-instance view: what its guest agent reports' },
);
export type GuestAgentInfo = Static<typeof GuestAgentInfo>;

/** An instance as the API shows it. */
export const Instance = Type.Object({
  id: Type.String({ format: 'uuid', description: 'stable identifier: never reused, kept when the instance is renamed' }),
  name: Type.String(),
  type: Type.Union([Type.Literal('vm'), Type.Literal('container')]),
  image: Type.String(),
  state: InstanceState,
  accelerator: Type.String(),
  arch: Type.Optional(Type.String({ description: 'guest CPU architecture (x86_64, aarch64, riscv64; containers: the host\'s)' })),
  cpus: Type.Integer(),
  memory: Type.Integer({ description: 'bytes' }),
  maxCpus: Type.Optional(Type.Integer({ description: 'VMs launched with hot-add room: most vCPUs a live resize may reach' })),
  maxMemory: Type.Optional(Type.Integer({ description: 'VMs launched with hot-add room: most memory (bytes) a live resize may reach' })),
  disk: Type.Integer({ description: "bytes; containers: the root volume's quota (0 = no limit)" }),
  addresses: Type.Array(Type.String()),
  nics: Type.Array(Nic),
  pid: Type.Union([Type.Integer(), Type.Null()]),
  usage: Type.Optional(
    Type.Object(
      {
        cpuSeconds: Type.Number(),
        memoryBytes: Type.Integer(),
        pids: Type.Integer(),
        guestMemory: Type.Optional(
          Type.Object(
            { totalBytes: Type.Integer(), freeBytes: Type.Integer(), availableBytes: Type.Integer(), usedBytes: Type.Integer() },
            { description: "VMs: memory as the guest sees it (its virtio-balloon's statistics; usedBytes = total - available), next to the host's memoryBytes (QEMU's RSS)" },
          ),
        ),
      },
      { description: 'live resource usage: containers from their cgroup, VMs from QEMU (memoryBytes: its RSS on the host)' },
    ),
  ),
  oomKills: Type.Optional(Type.Integer({ description: 'containers: processes killed for exceeding the memory limit' })),
  exitCode: Type.Optional(Type.Integer({ description: "application containers: how the process ended last (128+N: signal N)" })),
  error: Type.Optional(Type.String()),
  labels: Type.Optional(Labels),
  plan: Type.Optional(Type.String({ description: 'the plan it was launched with' })),
  dedicatedCores: Type.Optional(Type.Array(Type.Integer(), { description: 'dedicated plans: the host cores its vCPUs are pinned to' })),
  rescue: Type.Optional(Type.Object({ image: Type.String(), since: Type.String() }, { description: 'set while it runs a rescue system with its own root as a second disk' })),
  media: Type.Optional(Type.String({ description: "VMs launched with --iso: the ISO image in their CD-ROM drive ('' = empty; nimbo media insert/eject)" })),
  firmware: Type.Optional(
    Type.Object(
      { type: Type.Union([Type.Literal('bios'), Type.Literal('uefi')]), secureBoot: Type.Boolean(), tpm: Type.Boolean() },
      { description: 'VMs: the firmware it boots with, Secure Boot, and whether it has an emulated TPM 2.0' },
    ),
  ),
  description: Type.String({ description: 'free text (nimbo update --description)' }),
  autostart: Autostart,
  createdAt: Type.String(),
  agent: Type.Optional(GuestAgentInfo),
});
export type Instance = Static<typeof Instance>;

/** Body of PATCH /api/v1/instances/{name}: each field given is changed; the others are kept. */
export const InstancePatch = Type.Object(
  {
    name: Type.Optional(Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 63, description: 'rename: the new name (DNS label); host objects, addresses and snapshots stay' })),
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    labels: Type.Optional({ ...Labels, description: 'replaces all labels ({} removes them)' }),
    autostart: Type.Optional(Autostart),
    cpus: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: 'only while stopped' })),
    memory: Type.Optional({ ...Size, description: 'only while stopped; 64MiB to 256GiB' }),
  },
  strict,
);
export type InstancePatch = Static<typeof InstancePatch>;

/** Body of POST /api/v1/instances/{name}/{action}. */
export const InstanceAction = Type.Object(
  { force: Type.Optional(Type.Boolean()), timeout: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, description: 'seconds before a hard stop' })) },
  strict,
);
export type InstanceAction = Static<typeof InstanceAction>;

/** An image as the API shows it. */
export const Image = Type.Object({
  name: Type.String(),
  source: Type.String({ description: 'builtin:tiny, builtin:debian-12, import:FILE or instance:NAME' }),
  format: Type.String(),
  boot: Type.String({ description: 'direct or disk' }),
  type: Type.Optional(Type.Union([Type.Literal('disk'), Type.Literal('iso'), Type.Literal('oci')], { description: "disk: boots from its disk; iso: an ISO 9660 installer CD (launch --iso); oci: an application image (launch --app)" })),
  os: Type.String(),
  size: Type.Integer({ description: 'virtual size in bytes' }),
  arch: Type.Optional(Type.String({ description: 'the guest CPU architecture the image was built for' })),
  status: Type.Union([Type.Literal('building'), Type.Literal('ready'), Type.Literal('error')]),
  createdAt: Type.String(),
  visibility: Type.Union([Type.Literal('public'), Type.Literal('private')], { description: "public: the platform's, for every project; private: this project's own (made with POST /instances/{name}/publish)" }),
  kind: Type.Optional(Type.Literal('template', { description: 'a booted VM saved with POST /images/snapshot: launches restore its memory instead of booting' })),
  template: Type.Optional(Type.Object({
    cpus: Type.Integer(), memory: Type.Integer({ description: 'bytes' }), nics: Type.Integer(), stateBytes: Type.Integer(), from: Type.String({ description: 'the VM it was saved from' }),
  }, { description: 'the hardware shape a launch from the template gets' })),
});
export type Image = Static<typeof Image>;

/** Body of POST /api/v1/instances/{name}/media: the ISO image to put in the VM's CD-ROM drive (live when it runs). */
export const MediaInsert = Type.Object({ image: Name }, strict);
export type MediaInsert = Static<typeof MediaInsert>;

/** Body of POST /api/v1/instances/{name}/publish: the private image to make from the stopped VM. */
export const ImagePublish = Type.Object({ image: Name }, strict);
export type ImagePublish = Static<typeof ImagePublish>;

/** Body of POST /api/v1/images/snapshot: a private template image `name` from the running VM `fromRunning`. */
export const ImageSnapshot = Type.Object({ name: Name, fromRunning: Name }, strict);
export type ImageSnapshot = Static<typeof ImageSnapshot>;

/** Body of POST /api/v1/images (build a built-in image). */
export const ImageBuild = Type.Object({ name: Name, builder: Type.Optional(Type.String({ enum: ['tiny', 'debian-12', 'tiny-aarch64', 'tiny-riscv64'] })) }, strict);
export type ImageBuild = Static<typeof ImageBuild>;
/** Body of POST /api/v1/images/import (a qcow2/raw file on the daemon's host). */
export const ImageImport = Type.Object({ name: Name, path: Type.String({ minLength: 1, maxLength: 4096 }), arch: Type.Optional(Arch) }, strict);
export type ImageImport = Static<typeof ImageImport>;

export const OperationStatus = Type.Union(['pending', 'running', 'success', 'failure', 'cancelled'].map((s) => Type.Literal(s)));
export type OperationStatus = 'pending' | 'running' | 'success' | 'failure' | 'cancelled';

/** A long-running action. */
export const Operation = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  target: Type.String(),
  /** The project the operation's target belongs to (absent: a platform operation, e.g. on a pool). */
  project: Type.Optional(Type.String()),
  status: OperationStatus,
  progress: Type.Integer({ minimum: 0, maximum: 100 }),
  log: Type.Array(Type.String()),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
  result: Type.Optional(Type.Unknown()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
export type Operation = Static<typeof Operation>;

/** Facts about the host and the daemon. */
export const HostInfo = Type.Object({
  hostname: Type.String(),
  version: Type.String(),
  accelerator: Type.String(),
  acceleratorReason: Type.String(),
  arch: Type.Optional(Type.String({ description: "the host's CPU architecture" })),
  guestArches: Type.Optional(
    Type.Array(Type.Object({ arch: Type.String(), native: Type.Boolean(), missing: Type.Array(Type.Object({ what: Type.String(), pkg: Type.String() }), { maxItems: 16 }) }), {
      maxItems: 8,
      description: 'guest architectures: native or emulated; runnable when nothing is missing (else the Debian packages to install)',
    }),
  ),
  kernel: Type.String(),
  cpus: Type.Integer(),
  memory: Type.Integer(),
  stateDir: Type.String(),
  prefix: Type.String(),
  network: Type.Object({ name: Type.String(), bridge: Type.String(), subnet: Type.String(), gateway: Type.String() }),
  checks: Type.Array(Type.Object({ name: Type.String(), ok: Type.Boolean(), detail: Type.String() })),
});
export type HostInfo = Static<typeof HostInfo>;

/** An event pushed on /api/v1/events. */
export const Event = Type.Object({
  type: Type.String({ description: 'operation | instance | image' }),
  time: Type.String(),
  target: Type.String(),
  /** The project of the event's target (absent: a platform event, seen by admins and operators). */
  project: Type.Optional(Type.String()),
  data: Type.Unknown(),
});
export type Event = Static<typeof Event>;

/** The error body of every 4xx/5xx answer. */
export const ErrorBody = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), detail: Type.Optional(Type.Unknown()) }) });
export type ErrorBody = Static<typeof ErrorBody>;

/** Wrap a list schema as { key: [...] }. */
export function listOf<T extends TSchema>(key: string, item: T) {
  return Type.Object({ [key]: Type.Array(item) });
}

/** Body of POST /api/v1/instances/{name}/copy. */
export const InstanceCopy = Type.Object(
  {
    name: Name,
    snapshot: Type.Optional(Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 63, description: 'copy this snapshot of the source (else its current disks: the source must be stopped)' })),
    start: Type.Optional(Type.Boolean({ default: false, description: 'start the copy once made' })),
  },
  strict,
);
export type InstanceCopy = Static<typeof InstanceCopy>;
