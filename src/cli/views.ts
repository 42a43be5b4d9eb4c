/** Table columns and detail fields of each API resource. */
import { firmwareText } from '../shared/firmware-text.js';
import type { HostInfo, Image, Instance, Operation } from '../shared/api-types.js';
import { formatAge, formatBytes, formatList } from './format.js';
import type { FilterKeys } from './list-view.js';
import type { Column } from './output.js';

/** An instance's disk: a container without a quota has none to show. */
const diskText = (i: Instance) => (i.disk === 0 ? 'no limit' : formatBytes(i.disk));

/** The columns to show by default: ARCH only when some row is not x86_64 (`--columns arch` shows it always). */
export function archColumnsFor<T extends { arch?: string }>(columns: Column<T>[], rows: T[], asked?: string): Column<T>[] {
  if (asked !== undefined || rows.some((r) => (r.arch ?? 'x86_64') !== 'x86_64')) return columns;
  return columns.filter((c) => c.header !== 'ARCH');
}

/** Columns of `nimbo list`. */
export function instanceColumns(now = Date.now()): Column<Instance>[] {
  return [
    { header: 'NAME', value: (i) => i.name },
    { header: 'TYPE', value: (i) => i.type },
    { header: 'STATE', value: (i) => i.state },
    { header: 'IMAGE', value: (i) => i.image },
    { header: 'CPUS', value: (i) => String(i.cpus) },
    { header: 'MEMORY', value: (i) => formatBytes(i.memory) },
    { header: 'DISK', value: (i) => diskText(i) },
    { header: 'ADDRESSES', value: (i) => formatList(i.addresses) },
    { header: 'AGE', value: (i) => formatAge(i.createdAt, now) },
    { header: 'ARCH', value: (i) => i.arch ?? 'x86_64' },
  ];
}

/** `nimbo list --filter` keys (and label.KEY, matched against the labels given at launch). */
export const instanceFilterKeys: FilterKeys<Instance> = {
  name: (i) => i.name,
  state: (i) => i.state,
  type: (i) => i.type,
  image: (i) => i.image,
  network: (i) => (i.nics ?? []).map((n) => n.network),
  arch: (i) => i.arch ?? 'x86_64',
};

/** The guest's view of its memory (balloon statistics): used of total, free. */
function guestMemoryText(g: { totalBytes: number; freeBytes: number; usedBytes: number }): string {
  return `${formatBytes(g.usedBytes)} used of ${formatBytes(g.totalBytes)} (${formatBytes(g.freeBytes)} free), as the guest sees it`;
}

/** Fields of `nimbo info NAME`. */
export function instanceFields(i: Instance): [string, string][] {
  const f: [string, string][] = [
    ['Name', i.name],
    ['ID', i.id ?? '-'],
    ['Type', i.type],
    ['State', i.state],
    ['Image', i.image],
    ...(i.media !== undefined ? ([['CD-ROM', i.media || '(empty)']] as [string, string][]) : []),
    ['Accelerator', i.accelerator || '-'],
    ['Arch', i.arch ?? 'x86_64'],
    ...(i.firmware ? ([['Firmware', firmwareText(i)!]] as [string, string][]) : []),
    ['CPUs', i.maxCpus !== undefined ? `${i.cpus} (max ${i.maxCpus})` : String(i.cpus)],
    ['Memory', i.maxMemory !== undefined ? `${formatBytes(i.memory)} (max ${formatBytes(i.maxMemory)})` : formatBytes(i.memory)],
    ['Disk', diskText(i)],
    ['Addresses', formatList(i.addresses)],
    ['PID', i.pid === null ? '-' : String(i.pid)],
    ...(i.exitCode !== undefined ? ([['Exit code', String(i.exitCode)]] as [string, string][]) : []),
    ...(i.oomKills ? ([['OOM kills', String(i.oomKills)]] as [string, string][]) : []),
    ...(i.usage ? ([['Usage', `cpu ${i.usage.cpuSeconds.toFixed(2)} s, memory ${formatBytes(i.usage.memoryBytes)}, ${i.usage.pids} processes`]] as [string, string][]) : []),
    ...(i.usage?.guestMemory ? ([['Guest memory', guestMemoryText(i.usage.guestMemory)]] as [string, string][]) : []),
    ...(i.labels && Object.keys(i.labels).length ? ([['Labels', Object.entries(i.labels).map(([k, v]) => `${k}=${v}`).join(', ')]] as [string, string][]) : []),
    ...(i.description ? ([['Description', i.description]] as [string, string][]) : []),
    ['Autostart', i.autostart ?? 'last-state'],
    ['Created', i.createdAt],
  ];
  for (const n of i.nics ?? []) {
    const extra = [
      n.ipv6 ? n.ipv6 : '',
      `tap ${n.tap}`,
      n.securityGroups ? `groups ${formatList(n.securityGroups)}` : '',
      n.ingressBps ? `in ≤ ${n.ingressBps / 1e6} Mbit/s` : '',
      n.egressBps ? `out ≤ ${n.egressBps / 1e6} Mbit/s` : '',
      n.hotplug ? 'hot-plugged' : '',
    ].filter(Boolean);
    f.push([`NIC ${n.name}`, `${n.mac} on ${n.network} (${n.address || 'no address'}; ${extra.join('; ')})`]);
    if (n.counters) {
      const c = n.counters;
      f.push([`  traffic`, `rx ${formatBytes(c.rxBytes)} / ${c.rxPackets} pkts, tx ${formatBytes(c.txBytes)} / ${c.txPackets} pkts`]);
    }
  }
  if (i.agent) f.push(['Guest agent', agentText(i.agent)]);
  if (i.error) f.push(['Error', i.error]);
  return f;
}

/** The guest agent line of `nimbo info`: its version and the addresses the guest reports. */
function agentText(a: NonNullable<Instance['agent']>): string {
  if (!a.available) return 'not answering (exec, freezes and agent shutdown unavailable)';
  const addrs = (a.interfaces ?? []).flatMap((n) => n.addresses.map((x) => `${x.address}/${x.prefix} (${n.name})`));
  return `qemu-ga ${a.version ?? '?'}; guest addresses: ${addrs.length ? addrs.join(', ') : 'none'}`;
}

/** Columns of `nimbo image list`. */
export function imageColumns(now = Date.now()): Column<Image>[] {
  return [
    { header: 'NAME', value: (i) => i.name },
    { header: 'STATUS', value: (i) => i.status },
    { header: 'VISIBILITY', value: (i) => i.visibility },
    { header: 'TYPE', value: (i) => i.type ?? '-' },
    { header: 'OS', value: (i) => i.os || '-' },
    { header: 'BOOT', value: (i) => i.boot },
    { header: 'FORMAT', value: (i) => i.format },
    { header: 'SIZE', value: (i) => formatBytes(i.size) },
    { header: 'SOURCE', value: (i) => i.source },
    { header: 'AGE', value: (i) => formatAge(i.createdAt, now) },
    { header: 'ARCH', value: (i) => i.arch ?? 'x86_64' },
  ];
}

/** `nimbo image list --filter` keys. */
export const imageFilterKeys: FilterKeys<Image> = {
  name: (i) => i.name,
  status: (i) => i.status,
  os: (i) => i.os,
  boot: (i) => i.boot,
  format: (i) => i.format,
  type: (i) => i.type ?? '',
  visibility: (i) => i.visibility,
};

/** Columns of `nimbo operation list`. */
export function operationColumns(now = Date.now()): Column<Operation>[] {
  return [
    { header: 'ID', value: (o) => o.id },
    { header: 'KIND', value: (o) => o.kind },
    { header: 'TARGET', value: (o) => o.target },
    { header: 'STATUS', value: (o) => o.status },
    { header: 'PROGRESS', value: (o) => `${o.progress}%` },
    { header: 'AGE', value: (o) => formatAge(o.createdAt, now) },
    { header: 'ERROR', value: (o) => o.error?.message ?? '' },
  ];
}

/** `nimbo operation list --filter` keys. */
export const operationFilterKeys: FilterKeys<Operation> = {
  kind: (o) => o.kind,
  target: (o) => o.target,
  status: (o) => o.status,
};

/** Fields of `nimbo operation show ID`. */
export function operationFields(o: Operation): [string, string][] {
  const f: [string, string][] = [
    ['ID', o.id],
    ['Kind', o.kind],
    ['Target', o.target],
    ['Status', o.status],
    ['Progress', `${o.progress}%`],
    ['Created', o.createdAt],
    ['Updated', o.updatedAt],
  ];
  if (o.error) f.push(['Error', `${o.error.code}: ${o.error.message}`]);
  (o.log ?? []).forEach((line, n) => f.push([n === 0 ? 'Log' : '', line]));
  return f;
}

/** The guest architectures line of `nimbo host info`: each runnable one, and what the others lack (Debian packages). */
export function guestArchesText(list: NonNullable<HostInfo['guestArches']>): string {
  return list
    .map((a) => (a.missing.length === 0 ? `${a.arch} (${a.native ? 'native' : 'emulated'})` : `${a.arch} (missing: apt-get install ${[...new Set(a.missing.map((m) => m.pkg))].join(' ')})`))
    .join(', ');
}

/** Fields of `nimbo host info`. */
export function hostFields(h: HostInfo): [string, string][] {
  const failed = h.checks.filter((c) => !c.ok).map((c) => c.name);
  return [
    ['Hostname', h.hostname],
    ['Version', h.version],
    ['Kernel', h.kernel],
    ['CPUs', String(h.cpus)],
    ['Memory', formatBytes(h.memory)],
    ['Accelerator', `${h.accelerator} (${h.acceleratorReason})`],
    ...(h.arch ? [['Architecture', h.arch] as [string, string]] : []),
    ...(h.guestArches ? [['Guest arches', guestArchesText(h.guestArches)] as [string, string]] : []),
    ['State dir', h.stateDir],
    ['Prefix', h.prefix],
    ['Network', `${h.network.name}: bridge ${h.network.bridge}, ${h.network.subnet}, gateway ${h.network.gateway}`],
    ['Checks', failed.length === 0 ? `all ${h.checks.length} ok` : `failed: ${failed.join(', ')}`],
  ];
}

/** Columns of the `nimbo doctor` checks table. */
export function checkColumns(): Column<HostInfo['checks'][number]>[] {
  return [
    { header: 'CHECK', value: (c) => c.name },
    { header: 'OK', value: (c) => (c.ok ? 'ok' : 'FAIL') },
    { header: 'DETAIL', value: (c) => c.detail },
  ];
}
