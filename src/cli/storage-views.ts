/** Table columns and detail fields of the storage resources: pools, volumes, snapshots. */
import type { IoLimits, Pool, Snapshot, Volume } from '../shared/storage-types.js';
import { formatAge, formatBytes } from './format.js';
import type { FilterKeys } from './list-view.js';
import type { Column } from './output.js';

/** Over-provisioning ratio (provisioned / size) as "1.5x"; "-" when the pool has no size. */
export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) && ratio >= 0 ? `${ratio.toFixed(2).replace(/\.?0+$/, '')}x` : '-';
}

/** Share of a total as "30%" ("-" when the total is 0). */
function percent(part: number, total: number): string {
  return total > 0 ? `${Math.round((part / total) * 100)}%` : '-';
}

/** Capabilities as one line: true flags by name, lists and values as key=value, false flags left out. */
export function formatCapabilities(caps: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(caps)) {
    if (v === true) parts.push(k);
    else if (Array.isArray(v)) parts.push(`${k}=${v.length > 0 ? v.join('/') : '-'}`);
    else if (v !== false && v !== null && v !== undefined) parts.push(`${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  }
  return parts.length > 0 ? parts.join(', ') : '-';
}

/** A volume's size: the virtual size of a block volume, the quota of a filesystem volume (0 = none). */
export function formatVolumeSize(v: Volume): string {
  return v.kind === 'filesystem' && v.size === 0 ? 'unlimited' : formatBytes(v.size);
}

/** Non-zero I/O limits, short: "read 500 IOPS, write 10MiB/s"; "-" when none is set. */
export function formatLimits(l: Partial<IoLimits> | undefined): string {
  const parts: string[] = [];
  if (l?.iopsRead) parts.push(`read ${l.iopsRead} IOPS`);
  if (l?.iopsWrite) parts.push(`write ${l.iopsWrite} IOPS`);
  if (l?.bytesRead) parts.push(`read ${formatBytes(l.bytesRead)}/s`);
  if (l?.bytesWrite) parts.push(`write ${formatBytes(l.bytesWrite)}/s`);
  return parts.length > 0 ? parts.join(', ') : '-';
}

/** Columns of `nimbo storage pool list`. */
export function poolColumns(): Column<Pool>[] {
  return [
    { header: 'NAME', value: (p) => p.name },
    { header: 'DRIVER', value: (p) => p.driver },
    { header: 'FORMAT', value: (p) => p.format || '-' },
    { header: 'SIZE', value: (p) => formatBytes(p.size) },
    { header: 'USED', value: (p) => formatBytes(p.used) },
    { header: 'AVAILABLE', value: (p) => formatBytes(p.available) },
    { header: 'PROVISIONED', value: (p) => formatBytes(p.provisioned) },
    { header: 'RATIO', value: (p) => formatRatio(p.overProvisioning) },
    { header: 'VOLUMES', value: (p) => String(p.volumes) },
    { header: 'PATH', value: (p) => p.path },
  ];
}

/** `nimbo storage pool list --filter` keys. */
export const poolFilterKeys: FilterKeys<Pool> = {
  name: (p) => p.name,
  driver: (p) => p.driver,
  format: (p) => p.format,
};

/** `nimbo storage volume list --filter` keys (attached: the instance name, or - when detached). */
export const volumeFilterKeys: FilterKeys<Volume> = {
  name: (v) => v.name,
  kind: (v) => v.kind,
  format: (v) => v.format,
  attached: (v) => v.attachedTo ?? '-',
};

/** Fields of `nimbo storage pool info NAME`. */
export function poolFields(p: Pool): [string, string][] {
  return [
    ['Name', p.name],
    ['Driver', p.driver],
    ['Path', p.path],
    ['Format', p.format || '-'],
    ['Size', formatBytes(p.size)],
    ['Used', `${formatBytes(p.used)} (${percent(p.used, p.size)})`],
    ['Available', formatBytes(p.available)],
    ['Provisioned', formatBytes(p.provisioned)],
    ['Over-provisioning', formatRatio(p.overProvisioning)],
    ['Volumes', String(p.volumes)],
    ['Capabilities', formatCapabilities(p.capabilities ?? {})],
    ['Created', p.createdAt],
  ];
}

/** Columns of `nimbo storage volume list POOL`. */
export function volumeColumns(): Column<Volume>[] {
  return [
    { header: 'NAME', value: (v) => v.name },
    { header: 'KIND', value: (v) => v.kind },
    { header: 'FORMAT', value: (v) => v.format || '-' },
    { header: 'SIZE', value: formatVolumeSize },
    { header: 'ALLOCATED', value: (v) => formatBytes(v.allocated) },
    { header: 'SNAPSHOTS', value: (v) => String(v.snapshots) },
    { header: 'LINKED', value: (v) => (v.linked ? 'yes' : 'no') },
    { header: 'ATTACHED', value: (v) => v.attachedTo ?? '-' },
    { header: 'LIMITS', value: (v) => formatLimits(v.limits) },
  ];
}

/** "N IOPS" or "unlimited" (0 = unlimited). */
function iops(n: number | undefined): string {
  return n ? `${n} IOPS` : 'unlimited';
}

/** "N/s" or "unlimited" (0 = unlimited). */
function bps(n: number | undefined): string {
  return n ? `${formatBytes(n)}/s` : 'unlimited';
}

/** Fields of `nimbo storage volume info POOL NAME`. */
export function volumeFields(v: Volume): [string, string][] {
  const f: [string, string][] = [
    ['Name', v.name],
    ['Pool', v.pool],
    ['Kind', v.kind],
  ];
  if (v.format) f.push(['Format', v.format]);
  f.push(
    [v.kind === 'filesystem' ? 'Quota' : 'Size', formatVolumeSize(v)],
    ['Allocated', formatBytes(v.allocated)],
    ['Snapshots', String(v.snapshots)],
    ['Linked', v.linked ? 'yes (reads from a shared base)' : 'no'],
    ['Attached to', v.attachedTo ?? '-'],
    ['IOPS limit', `read ${iops(v.limits?.iopsRead)}, write ${iops(v.limits?.iopsWrite)}`],
    ['Bandwidth limit', `read ${bps(v.limits?.bytesRead)}, write ${bps(v.limits?.bytesWrite)}`],
  );
  return f;
}

/** Columns of `nimbo storage volume snapshot list POOL VOLUME`. */
export function snapshotColumns(now = Date.now()): Column<Snapshot>[] {
  return [
    { header: 'NAME', value: (s) => s.name },
    { header: 'VM STATE', value: (s) => (s.vmStateBytes > 0 ? formatBytes(s.vmStateBytes) : '-') },
    { header: 'CREATED', value: (s) => s.createdAt },
    { header: 'AGE', value: (s) => formatAge(s.createdAt, now) },
  ];
}
