import type { VxlanSpec } from '../types.js';

// Pure pieces of a VXLAN overlay port: the argv that creates and wires the device, parsing of its state
// and of its forwarding database, and the plan that turns the current peers into the wanted ones.
// Reference: ip-link(8) "VXLAN Type Support", bridge(8) "bridge fdb".
//
// Unicast overlay without multicast: `nolearning` plus one all-zero-MAC forwarding entry per peer host
// (head-end replication: broadcast, unknown unicast and multicast go to every peer). Remote guest MACs
// are learned by the bridge on the VXLAN port as usual.
//
// Two hosts sharing an overlay network (same subnet, same VNI, peers pointing at each other) form one
// L2 segment. Each host's bridge holds its own address in the subnet (a different gateway per host,
// e.g. .1 on host 1 and .2 on host 2, likewise for the IPv6 gateway), runs its own dnsmasq for the
// guests on that host, and is their router (NAT or routed, per host). The network's bridge-family
// ruleset keeps DHCP, DHCPv6 and router solicitations/advertisements from crossing the VXLAN port, so a
// guest only ever hears its own host's DHCP server and router; ARP/ND and guest traffic cross freely.

/** MTU of the VXLAN port and hence the bridge and guests: 1500 minus 50 bytes of outer headers. */
export const VXLAN_MTU = 1450;

/** The all-zero MAC of the default (flooding) forwarding entries. */
export const FLOOD_MAC = '00:00:00:00:00:00';

/** What ensure() compares on an existing device (from `ip -j -d ... show dev DEV`). */
export interface VxlanState {
  vni: number;
  local: string | null;
  port: number;
  learning: boolean;
}

/** `ip link add DEV type vxlan id VNI local LOCAL dstport PORT nolearning` (validated spec). */
export function vxlanAddArgv(v: VxlanSpec): string[] {
  return ['ip', 'link', 'add', v.device, 'type', 'vxlan', 'id', String(v.vni), 'local', v.local, 'dstport', String(v.port), 'nolearning'];
}

/** Set the MTU, make the device a port of `bridge` and bring it up (one command). */
export function vxlanAttachArgv(v: VxlanSpec, bridge: string): string[] {
  return ['ip', 'link', 'set', 'dev', v.device, 'mtu', String(VXLAN_MTU), 'master', bridge, 'up'];
}

/** Delete the device. */
export function vxlanDelArgv(device: string): string[] {
  return ['ip', 'link', 'del', 'dev', device];
}

/** Read the forwarding database of the device as JSON. */
export function fdbShowArgv(device: string): string[] {
  return ['bridge', '-j', 'fdb', 'show', 'dev', device];
}

/** Add the flooding entry toward one peer. */
export function fdbAppendArgv(device: string, peer: string): string[] {
  return ['bridge', 'fdb', 'append', FLOOD_MAC, 'dev', device, 'dst', peer];
}

/** Delete the flooding entry toward one peer. */
export function fdbDelArgv(device: string, peer: string): string[] {
  return ['bridge', 'fdb', 'del', FLOOD_MAC, 'dev', device, 'dst', peer];
}

/** The VXLAN settings of a device from `ip -j -d ...` JSON linkinfo.info_data (null when not given). */
export function parseVxlanInfo(infoData: unknown): VxlanState | null {
  if (!infoData || typeof infoData !== 'object') return null;
  const d = infoData as { id?: number; local?: string; port?: number; learning?: boolean };
  if (typeof d.id !== 'number') return null;
  return { vni: d.id, local: d.local ?? null, port: typeof d.port === 'number' ? d.port : 0, learning: d.learning !== false };
}

/** True when an existing device was made from this spec (else it must be recreated: these cannot change in place). */
export function vxlanMatches(state: VxlanState, v: VxlanSpec): boolean {
  return state.vni === v.vni && state.local === v.local && state.port === v.port && !state.learning;
}

/** Peer addresses of the all-zero-MAC entries in `bridge -j fdb show dev DEV` output, in order, duplicates kept. */
export function parseFloodPeers(fdbJson: string): string[] {
  const entries = JSON.parse(fdbJson || '[]') as Array<{ mac?: string; dst?: string }>;
  return entries.filter((e) => e.mac === FLOOD_MAC && typeof e.dst === 'string').map((e) => e.dst!);
}

/** What to delete and add so that there is exactly one entry per wanted peer (a duplicated entry is deleted and re-added). */
export function fdbPlan(current: string[], wanted: string[]): { del: string[]; add: string[] } {
  const counts = new Map<string, number>();
  for (const c of current) counts.set(c, (counts.get(c) ?? 0) + 1);
  const want = new Set(wanted);
  const del = [...counts.keys()].filter((c) => !want.has(c) || counts.get(c)! > 1);
  const add = [...want].filter((w) => !counts.has(w) || counts.get(w)! > 1);
  return { del, add };
}
