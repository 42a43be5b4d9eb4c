// A plan as kept in the store, its price in integer micro-units (money is never a float), the built-in
// plans seeded at first start, and the pure checks of a create or patch.
import { invalid } from '../../lib/errors.js';
import type { Plan, PlanCreate, PlanDiskLimits, PlanNetLimits, PlanPatch } from '../../shared/plan-types.js';

/** A plan record: the API's fields, the price kept as micro-units per hour. */
export interface PlanRecord extends Omit<Plan, 'pricePerHour'> {
  priceMicros: number;
}

const NO_DISK: PlanDiskLimits = { readBps: 0, writeBps: 0, readIops: 0, writeIops: 0 };
const NO_NET: PlanNetLimits = { inMbit: 0, outMbit: 0 };
const MiB = 1024 ** 2;

/** Micro-units of a decimal price string ("0.0125" -> 12500); InvalidArgument on anything else. */
export function parsePrice(s: string): number {
  const m = /^([0-9]{1,9})(?:\.([0-9]{1,6}))?$/.exec(s);
  if (!m) throw invalid(`price ${JSON.stringify(s)} must be a decimal number with at most 6 decimals, e.g. 0.0125`);
  return Number(m[1]) * 1_000_000 + Number((m[2] ?? '').padEnd(6, '0'));
}

/** The decimal string of a price in micro-units (at least 2 decimals: 12500 -> "0.0125", 1000000 -> "1.00"). */
export function formatPrice(micros: number): string {
  const whole = Math.floor(micros / 1_000_000);
  let frac = String(micros % 1_000_000).padStart(6, '0').replace(/0+$/, '');
  if (frac.length < 2) frac = frac.padEnd(2, '0');
  return `${whole}.${frac}`;
}

/** The API view of a record. */
export function toPlan(r: PlanRecord): Plan {
  const { priceMicros, ...rest } = r;
  return { ...rest, pricePerHour: formatPrice(priceMicros) };
}

/** A new record from a create request (schema-checked already; the cross-field rules here). */
export function newPlanRecord(req: PlanCreate, builtin = false, now = new Date()): PlanRecord {
  const rec: PlanRecord = {
    name: req.name,
    class: req.class ?? 'shared',
    vcpus: req.vcpus,
    memoryMiB: req.memoryMiB,
    diskGiB: req.diskGiB,
    transferGiBPerMonth: req.transferGiBPerMonth ?? 0,
    priceMicros: parsePrice(req.pricePerHour ?? '0'),
    cpuWeight: req.cpuWeight ?? 100,
    disk: { ...NO_DISK, ...req.disk },
    network: { ...NO_NET, ...req.network },
    description: req.description ?? '',
    builtin,
    createdAt: now.toISOString(),
  };
  return checkPlan(rec);
}

/** A record with a patch applied (name, builtin and createdAt kept). */
export function patchPlanRecord(cur: PlanRecord, p: PlanPatch): PlanRecord {
  return checkPlan({
    ...cur,
    ...(p.class !== undefined ? { class: p.class } : {}),
    ...(p.vcpus !== undefined ? { vcpus: p.vcpus } : {}),
    ...(p.memoryMiB !== undefined ? { memoryMiB: p.memoryMiB } : {}),
    ...(p.diskGiB !== undefined ? { diskGiB: p.diskGiB } : {}),
    ...(p.transferGiBPerMonth !== undefined ? { transferGiBPerMonth: p.transferGiBPerMonth } : {}),
    ...(p.pricePerHour !== undefined ? { priceMicros: parsePrice(p.pricePerHour) } : {}),
    ...(p.cpuWeight !== undefined ? { cpuWeight: p.cpuWeight } : {}),
    ...(p.description !== undefined ? { description: p.description } : {}),
    disk: { ...cur.disk, ...p.disk },
    network: { ...cur.network, ...p.network },
  });
}

/** Rules the schema cannot say: the container runtime refuses byte rates under 1 MiB/s. */
function checkPlan(r: PlanRecord): PlanRecord {
  for (const k of ['readBps', 'writeBps'] as const) {
    if (r.disk[k] !== 0 && r.disk[k] < MiB) throw invalid(`plan ${r.name}: disk ${k} ${r.disk[k]} must be 0 (unlimited) or at least 1048576 (1 MiB/s)`);
  }
  return r;
}

/** The plans nimbo seeds at its first start (an operator may change or delete them). */
export const BUILTIN_PLANS: PlanCreate[] = [
  {
    name: 's-1', class: 'shared', vcpus: 1, memoryMiB: 512, diskGiB: 10, transferGiBPerMonth: 500, pricePerHour: '0.0070', cpuWeight: 100,
    disk: { readBps: 100 * MiB, writeBps: 100 * MiB, readIops: 2000, writeIops: 2000 }, network: { inMbit: 100, outMbit: 100 },
    description: '1 shared vCPU, 512 MiB, 10 GiB',
  },
  {
    name: 's-2', class: 'shared', vcpus: 2, memoryMiB: 2048, diskGiB: 40, transferGiBPerMonth: 2000, pricePerHour: '0.0250', cpuWeight: 200,
    disk: { readBps: 200 * MiB, writeBps: 200 * MiB, readIops: 4000, writeIops: 4000 }, network: { inMbit: 200, outMbit: 200 },
    description: '2 shared vCPUs, 2 GiB, 40 GiB',
  },
  {
    name: 'd-1', class: 'dedicated', vcpus: 1, memoryMiB: 1024, diskGiB: 20, transferGiBPerMonth: 1000, pricePerHour: '0.0400',
    disk: { readBps: 200 * MiB, writeBps: 200 * MiB, readIops: 4000, writeIops: 4000 }, network: { inMbit: 500, outMbit: 500 },
    description: '1 dedicated core, 1 GiB reserved, 20 GiB',
  },
  {
    name: 'd-2', class: 'dedicated', vcpus: 2, memoryMiB: 4096, diskGiB: 80, transferGiBPerMonth: 4000, pricePerHour: '0.0900',
    disk: { readBps: 400 * MiB, writeBps: 400 * MiB, readIops: 8000, writeIops: 8000 }, network: { inMbit: 1000, outMbit: 1000 },
    description: '2 dedicated cores, 4 GiB reserved, 80 GiB',
  },
];
