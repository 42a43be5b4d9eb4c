import { join } from 'node:path';
import type { NetworkMode, NetworkSpec } from '../drivers/network/types.js';
import type { Network } from '../shared/network-types.js';
import type { DaemonConfig, StatePaths } from './config.js';
import { DEFAULT_PROJECT, keys } from '../store/keys.js';

/** A network as kept in the store at /networks/PROJECT/NAME. */
export interface NetworkRecord {
  name: string;
  /** The owning project (absent on records older than projects: 'default'). */
  project?: string;
  type: 'bridge' | 'vxlan';
  mode: NetworkMode;
  /** Bridge device; its number n also names the VXLAN device (PREFIXvxN). */
  bridge: string;
  subnet: string;
  gateway: string;
  ipv6: { subnet: string; gateway: string } | null;
  vxlan: { vni: number; local: string; port: number; peers: string[]; device: string } | null;
  description: string;
  createdAt: string;
}

/** One allocated address, kept at /ipam/PROJECT/NETWORK/IP (owner: an instance of that project). */
export interface Allocation {
  network: string;
  ip: string;
  ipv6?: string;
  mac: string;
  owner: string;
  nic: string;
  hostname: string;
}

/** Store key of a network. */
export const networkKey = (project: string, name: string) => keys.network(project, name);
/** Store prefix of a network's address allocations. */
export const ipamPrefix = (project: string, net: string) => keys.ipam(project, net);

/**
 * The host-wide name of a network: what the driver keys it by and names its state dir after. The default
 * project's networks keep their own name (the layout nimbo always had: a running dnsmasq is re-adopted after an
 * upgrade); another project's are `PROJECT.NAME`, which no default network can be (names have no '.').
 */
export function hostNetworkName(rec: Pick<NetworkRecord, 'name' | 'project'>): string {
  const project = rec.project ?? DEFAULT_PROJECT;
  return project === DEFAULT_PROJECT ? rec.name : `${project}.${rec.name}`;
}

/** The driver's view of a network record. */
export function networkSpec(rec: NetworkRecord, config: DaemonConfig, paths: StatePaths): NetworkSpec {
  return {
    name: hostNetworkName(rec),
    bridge: rec.bridge,
    subnet: rec.subnet,
    gateway: rec.gateway,
    mode: rec.mode,
    ...(rec.ipv6 ? { ipv6: { ...rec.ipv6 } } : {}),
    ...(rec.vxlan ? { vxlan: { device: rec.vxlan.device, vni: rec.vxlan.vni, local: rec.vxlan.local, port: rec.vxlan.port, peers: [...rec.vxlan.peers] } } : {}),
    domain: rec.name,
    stateDir: join(paths.networks, hostNetworkName(rec)),
    nftTable: config.prefix,
  };
}

/** The API view of a network. */
export function toNetwork(rec: NetworkRecord, instances: string[]): Network {
  return {
    name: rec.name,
    type: rec.type,
    mode: rec.mode,
    bridge: rec.bridge,
    subnet: rec.subnet,
    gateway: rec.gateway,
    ipv6: rec.ipv6,
    domain: rec.name,
    vxlan: rec.vxlan,
    description: rec.description,
    instances,
    createdAt: rec.createdAt,
  };
}
