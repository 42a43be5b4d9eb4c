import { join } from 'node:path';
import type { NetworkMode, NetworkSpec } from '../drivers/network/types.js';
import type { Network } from '../shared/network-types.js';
import type { DaemonConfig, StatePaths } from './config.js';
import { keys } from '../store/keys.js';

/** A network as kept in the store at /networks/NAME. */
export interface NetworkRecord {
  name: string;
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

/** One allocated address, kept at /ipam/NETWORK/IP. */
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
export const networkKey = (name: string) => keys.network(name);
/** Store prefix of a network's address allocations. */
export const ipamPrefix = (net: string) => keys.ipam(net);

/** The driver's view of a network record. */
export function networkSpec(rec: NetworkRecord, config: DaemonConfig, paths: StatePaths): NetworkSpec {
  return {
    name: rec.name,
    bridge: rec.bridge,
    subnet: rec.subnet,
    gateway: rec.gateway,
    mode: rec.mode,
    ...(rec.ipv6 ? { ipv6: { ...rec.ipv6 } } : {}),
    ...(rec.vxlan ? { vxlan: { device: rec.vxlan.device, vni: rec.vxlan.vni, local: rec.vxlan.local, port: rec.vxlan.port, peers: [...rec.vxlan.peers] } } : {}),
    domain: rec.name,
    stateDir: join(paths.networks, rec.name),
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
