// Project quotas, pure: limits (absent = unlimited), usage counters, and the check of a charge against them.
import { NimboError } from '../../lib/errors.js';
import { QUOTA_FIELDS, type QuotaField, type QuotaLimits } from '../../shared/plan-types.js';

/** A project's usage counters (every field present). */
export type Usage = Record<QuotaField, number>;
/** How much one thing uses (instance, network, floating IP, snapshot). */
export type Counts = Partial<Record<QuotaField, number>>;

/** Nothing used. */
export const zeroUsage = (): Usage => Object.fromEntries(QUOTA_FIELDS.map((f) => [f, 0])) as Usage;

const UNITS: Record<QuotaField, string> = {
  instances: 'instances', vcpus: 'vCPUs', memoryMiB: 'MiB of memory', diskGiB: 'GiB of disk', networks: 'networks', floatingIps: 'floating IPs', snapshots: 'snapshots',
};

/** Usage plus `c` when it fits the limits; QuotaExceeded naming the first field that does not. */
export function addWithin(project: string, limits: QuotaLimits, used: Usage, c: Counts): Usage {
  const next = { ...used };
  for (const f of QUOTA_FIELDS) {
    const add = c[f] ?? 0;
    if (add === 0) continue;
    const limit = limits[f];
    if (add > 0 && limit !== undefined && limit !== null && used[f] + add > limit) {
      throw new NimboError('QuotaExceeded', `project ${project} is over its quota of ${limit} ${UNITS[f]}: ${used[f]} in use and ${add} more asked`, { project, field: f, limit, used: used[f], asked: add });
    }
    next[f] = used[f] + add;
  }
  return next;
}

/** Usage minus `c` (never below zero). */
export function subtract(used: Usage, c: Counts): Usage {
  const next = { ...used };
  for (const f of QUOTA_FIELDS) next[f] = Math.max(0, used[f] - (c[f] ?? 0));
  return next;
}

/** A stored usage record with every field (older records: missing fields are 0). */
export const usageOf = (v: Partial<Usage> | undefined): Usage => ({ ...zeroUsage(), ...v });
