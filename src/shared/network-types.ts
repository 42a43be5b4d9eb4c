import { Type, type Static } from '@sinclair/typebox';
import { Name } from './api-types.js';

const strict = { additionalProperties: false } as const;
const Ipv4 = Type.String({ minLength: 7, maxLength: 15, description: 'IPv4 address' });
const Cidr = Type.String({ minLength: 9, maxLength: 43, description: 'CIDR block, e.g. 10.0.5.0/24 or fd00:1:2:3::/64' });
const Rate = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ minLength: 1, maxLength: 20 })], { description: 'bits per second, or with a unit: 100mbit, 1gbit; 0 = unlimited' });

/** VXLAN settings of an overlay network. */
export const Vxlan = Type.Object(
  {
    vni: Type.Integer({ minimum: 1, maximum: 16777215 }),
    local: Ipv4,
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, default: 4789 })),
    peers: Type.Array(Ipv4, { maxItems: 64, description: "the other hosts' underlay addresses" }),
  },
  strict,
);

/** Body of POST /api/v1/networks. */
export const NetworkCreate = Type.Object(
  {
    name: Name,
    type: Type.Optional(Type.Union([Type.Literal('bridge'), Type.Literal('vxlan')], { default: 'bridge' })),
    mode: Type.Optional(Type.Union([Type.Literal('nat'), Type.Literal('routed'), Type.Literal('isolated')], { default: 'nat' })),
    subnet: Type.Optional(Cidr),
    gateway: Type.Optional(Type.String({ minLength: 7, maxLength: 15, description: "the host's address (default .1; on a vxlan network give each host its own among .1-.8)" })),
    ipv6: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('none'), Cidr], { description: '"auto" (a ULA /64, the default), "none", or a /64' })),
    vxlan: Type.Optional(Vxlan),
    description: Type.Optional(Type.String({ maxLength: 256 })),
  },
  strict,
);
export type NetworkCreate = Static<typeof NetworkCreate>;

/** A network as the API shows it. */
export const Network = Type.Object({
  name: Type.String(),
  type: Type.String(),
  mode: Type.String(),
  bridge: Type.String(),
  subnet: Type.String(),
  gateway: Type.String(),
  ipv6: Type.Union([Type.Object({ subnet: Type.String(), gateway: Type.String() }), Type.Null()]),
  domain: Type.String(),
  vxlan: Type.Union([Type.Object({ vni: Type.Integer(), local: Type.String(), port: Type.Integer(), peers: Type.Array(Type.String()), device: Type.String() }), Type.Null()]),
  description: Type.String(),
  instances: Type.Array(Type.String()),
  createdAt: Type.String(),
});
export type Network = Static<typeof Network>;

/** An address lease (static reservation) on a network. */
export const Lease = Type.Object({ ip: Type.String(), ipv6: Type.Optional(Type.String()), mac: Type.String(), instance: Type.String(), nic: Type.String(), hostname: Type.String() });
export type Lease = Static<typeof Lease>;

/** Body of POST /api/v1/networks/{name}/forwards: a port forward, or (without ports) a floating IP. */
export const ForwardCreate = Type.Object(
  {
    listenAddress: Ipv4,
    protocol: Type.Optional(Type.Union([Type.Literal('tcp'), Type.Literal('udp')])),
    listenPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    listenPortEnd: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    instance: Name,
    nic: Type.Optional(Type.String({ pattern: '^eth[0-9]{1,2}$' })),
    targetPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    description: Type.Optional(Type.String({ maxLength: 256 })),
  },
  strict,
);
export type ForwardCreate = Static<typeof ForwardCreate>;

/** A port forward or floating IP. */
export const Forward = Type.Object({
  id: Type.String(),
  network: Type.String(),
  kind: Type.Union([Type.Literal('port'), Type.Literal('floating')]),
  listenAddress: Type.String(),
  protocol: Type.Optional(Type.String()),
  listenPort: Type.Optional(Type.Integer()),
  listenPortEnd: Type.Optional(Type.Integer()),
  instance: Type.String(),
  nic: Type.String(),
  targetAddress: Type.String(),
  targetPort: Type.Optional(Type.Integer()),
  description: Type.String(),
});
export type Forward = Static<typeof Forward>;

/** A security group rule as the API takes and shows it. */
export const SecurityRule = Type.Object(
  {
    id: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' })),
    direction: Type.Union([Type.Literal('ingress'), Type.Literal('egress')]),
    protocol: Type.Union([Type.Literal('tcp'), Type.Literal('udp'), Type.Literal('icmp'), Type.Literal('any')]),
    ports: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}(-[0-9]{1,5})?$', description: 'a port or a range: 22, 8000-8100' })),
    source: Type.Optional(Type.String({ maxLength: 64, description: 'CIDR, or group:NAME' })),
    destination: Type.Optional(Type.String({ maxLength: 64, description: 'CIDR, or group:NAME' })),
    description: Type.Optional(Type.String({ maxLength: 256 })),
  },
  strict,
);
export type SecurityRule = Static<typeof SecurityRule>;

/** Body of POST /api/v1/security-groups. */
export const SecurityGroupCreate = Type.Object(
  { name: Name, description: Type.Optional(Type.String({ maxLength: 256 })), rules: Type.Optional(Type.Array(SecurityRule, { maxItems: 10000 })) },
  strict,
);
export type SecurityGroupCreate = Static<typeof SecurityGroupCreate>;

/** A security group as the API shows it. */
export const SecurityGroup = Type.Object({
  name: Type.String(),
  description: Type.String(),
  rules: Type.Array(SecurityRule),
  attachedTo: Type.Array(Type.String({ description: 'INSTANCE/NIC' })),
  createdAt: Type.String(),
});
export type SecurityGroup = Static<typeof SecurityGroup>;

/** Body of POST /api/v1/instances/{name}/nics (hot-plug when running). */
export const NicAttach = Type.Object(
  {
    network: Name,
    address: Type.Optional(Ipv4),
    securityGroups: Type.Optional(Type.Array(Name, { maxItems: 16 })),
    ingress: Type.Optional(Rate),
    egress: Type.Optional(Rate),
  },
  strict,
);
export type NicAttach = Static<typeof NicAttach>;

/** Body of PATCH /api/v1/instances/{name}/nics/{nic}: groups and bandwidth, applied live. */
export const NicPatch = Type.Object(
  { securityGroups: Type.Optional(Type.Array(Name, { maxItems: 16 })), ingress: Type.Optional(Rate), egress: Type.Optional(Rate) },
  strict,
);
export type NicPatch = Static<typeof NicPatch>;

/** Traffic counters of a NIC, from the guest's point of view. */
export const NicCounters = Type.Object({ rxBytes: Type.Integer(), rxPackets: Type.Integer(), txBytes: Type.Integer(), txPackets: Type.Integer() });
export type NicCounters = Static<typeof NicCounters>;

/** A NIC request at instance create. */
export const NicRequest = Type.Object(
  { network: Name, address: Type.Optional(Ipv4), securityGroups: Type.Optional(Type.Array(Name, { maxItems: 16 })), ingress: Type.Optional(Rate), egress: Type.Optional(Rate) },
  strict,
);
export type NicRequest = Static<typeof NicRequest>;
