/** Table columns and detail fields of networks, leases, forwards and security groups. */
import type { Forward, Lease, Network, SecurityGroup, SecurityRule } from '../shared/network-types.js';
import { formatList } from './format.js';
import type { FilterKeys } from './list-view.js';
import type { Column } from './output.js';

/** Columns of `nimbo network list`. */
export function networkColumns(): Column<Network>[] {
  return [
    { header: 'NAME', value: (n) => n.name },
    { header: 'TYPE', value: (n) => n.type },
    { header: 'MODE', value: (n) => n.mode },
    { header: 'SUBNET', value: (n) => n.subnet },
    { header: 'IPV6', value: (n) => n.ipv6?.subnet ?? '-' },
    { header: 'BRIDGE', value: (n) => n.bridge },
    { header: 'INSTANCES', value: (n) => String(n.instances.length) },
  ];
}

/** `nimbo network list --filter` keys. */
export const networkFilterKeys: FilterKeys<Network> = {
  name: (n) => n.name,
  type: (n) => n.type,
  mode: (n) => n.mode,
  instance: (n) => n.instances,
};

/** Fields of `nimbo network info`. */
export function networkFields(n: Network): [string, string][] {
  const f: [string, string][] = [
    ['Name', n.name],
    ['Type', n.type],
    ['Mode', n.mode],
    ['Bridge', n.bridge],
    ['Subnet', n.subnet],
    ['Gateway', n.gateway],
    ['IPv6', n.ipv6 ? `${n.ipv6.subnet} (gateway ${n.ipv6.gateway})` : '-'],
    ['DNS domain', n.domain],
  ];
  if (n.vxlan) f.push(['VXLAN', `vni ${n.vxlan.vni}, local ${n.vxlan.local}:${n.vxlan.port}, device ${n.vxlan.device}, peers ${formatList(n.vxlan.peers)}`]);
  f.push(['Instances', formatList(n.instances)], ['Description', n.description || '-'], ['Created', n.createdAt]);
  return f;
}

/** Columns of `nimbo network leases`. */
export function leaseColumns(): Column<Lease>[] {
  return [
    { header: 'IP', value: (l) => l.ip },
    { header: 'IPV6', value: (l) => l.ipv6 ?? '-' },
    { header: 'MAC', value: (l) => l.mac },
    { header: 'INSTANCE', value: (l) => l.instance },
    { header: 'NIC', value: (l) => l.nic },
    { header: 'HOSTNAME', value: (l) => l.hostname },
  ];
}

/** Columns of `nimbo network forward list`. */
export function forwardColumns(): Column<Forward>[] {
  const ports = (a?: number, b?: number) => (a === undefined ? '*' : b === undefined || b === a ? `${a}` : `${a}-${b}`);
  return [
    { header: 'ID', value: (f) => f.id },
    { header: 'KIND', value: (f) => f.kind },
    { header: 'LISTEN', value: (f) => `${f.listenAddress}:${ports(f.listenPort, f.listenPortEnd)}` },
    { header: 'PROTOCOL', value: (f) => f.protocol ?? 'all' },
    { header: 'TARGET', value: (f) => `${f.instance}/${f.nic} ${f.targetAddress}:${f.kind === 'floating' ? '*' : ports(f.targetPort, f.targetPort! + (f.listenPortEnd ?? f.listenPort!) - f.listenPort!)}` },
  ];
}

/** Columns of `nimbo firewall group list`. */
export function groupColumns(): Column<SecurityGroup>[] {
  return [
    { header: 'NAME', value: (g) => g.name },
    { header: 'RULES', value: (g) => String(g.rules.length) },
    { header: 'ATTACHED TO', value: (g) => formatList(g.attachedTo) },
    { header: 'DESCRIPTION', value: (g) => g.description || '-' },
  ];
}

/** One rule as text: "r1 ingress tcp 22 from 10.0.0.0/8". */
export function ruleText(r: SecurityRule): string {
  const peer = r.direction === 'ingress' ? (r.source ? ` from ${r.source}` : ' from any') : r.destination ? ` to ${r.destination}` : ' to any';
  return `${r.id} ${r.direction} ${r.protocol}${r.ports ? ` ${r.ports}` : ''}${peer}${r.description ? ` (${r.description})` : ''}`;
}

/** Fields of `nimbo firewall group info`. */
export function groupFields(g: SecurityGroup): [string, string][] {
  return [
    ['Name', g.name],
    ['Description', g.description || '-'],
    ['Attached to', formatList(g.attachedTo)],
    ...g.rules.map((r): [string, string] => [`Rule`, ruleText(r)]),
    ['Created', g.createdAt],
  ];
}
