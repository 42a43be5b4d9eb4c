// `launch --plan`: a plan turned into the explicit sizes and limits of a create request, pure. Sizes the
// request gives must agree with the plan, and a plan's limits cannot be overridden (they are what was sold).
import { invalid } from '../../lib/errors.js';
import { parseSize } from '../../lib/validate.js';
import type { InstanceCreate } from '../../shared/api-types.js';
import type { IoLimits } from '../../shared/storage-types.js';
import type { Counts } from '../quota/quota.js';
import type { PlanRecord } from './plan-record.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/** What a plan makes of a launch. */
export interface LaunchPlan {
  /** The request with the plan's sizes and (where the driver takes them) container limits filled in. */
  req: InstanceCreate;
  /** The root disk's I/O limits (VMs: QEMU throttling; containers get them as disk rates in `req`). */
  rootLimits: IoLimits;
  /** Dedicated plans: cores and memory to reserve on the host. */
  dedicated?: { vcpus: number; memoryMiB: number };
}

/** What the driver can take, and whether the pool can limit a container root's size. */
export interface PlanTarget {
  processLimits: boolean;
  /** A filesystem root whose pool has no quotas: the plan's disk is counted, not enforced. */
  diskUnenforced: boolean;
}

/** The request with `plan` applied; InvalidArgument naming the field that disagrees with the plan. */
export function launchPlan(req: InstanceCreate, plan: PlanRecord, target: PlanTarget): LaunchPlan {
  const p = `plan ${plan.name}`;
  if (req.cpus !== undefined && req.cpus !== plan.vcpus) throw invalid(`cpus ${req.cpus} disagrees with ${p} (${plan.vcpus} vCPUs): omit --cpus or choose another plan`);
  const sameSize = (v: string | number | undefined, bytes: number, what: string, shown: string) => {
    if (v !== undefined && parseSize(v, what) !== bytes) throw invalid(`${what} ${v} disagrees with ${p} (${shown}): omit --${what} or choose another plan`);
  };
  sameSize(req.memory, plan.memoryMiB * MiB, 'memory', `${plan.memoryMiB} MiB`);
  sameSize(req.disk, plan.diskGiB * GiB, 'disk', `${plan.diskGiB} GiB`);
  const own = [
    req.cpuWeight !== undefined && 'cpuWeight',
    (req.diskReadBps ?? req.diskWriteBps ?? req.diskReadIops ?? req.diskWriteIops) !== undefined && 'disk rates',
    (req.nics ?? []).some((n) => n.ingress !== undefined || n.egress !== undefined) && 'NIC bandwidth',
  ].filter(Boolean);
  if (own.length) throw invalid(`${own.join(' and ')} cannot be given with a plan: ${p} sets its limits`);
  const d = plan.disk;
  const net = plan.network;
  const containerRates = target.processLimits
    ? {
        ...(plan.class === 'shared' ? { cpuWeight: plan.cpuWeight } : {}),
        ...(d.readBps ? { diskReadBps: d.readBps } : {}),
        ...(d.writeBps ? { diskWriteBps: d.writeBps } : {}),
        ...(d.readIops ? { diskReadIops: d.readIops } : {}),
        ...(d.writeIops ? { diskWriteIops: d.writeIops } : {}),
      }
    : {};
  const nicLimits = { ...(net.inMbit ? { ingress: net.inMbit * 1_000_000 } : {}), ...(net.outMbit ? { egress: net.outMbit * 1_000_000 } : {}) };
  const { disk: _disk, ...rest } = req;
  const out: InstanceCreate = {
    ...rest,
    cpus: plan.vcpus,
    memory: plan.memoryMiB * MiB,
    ...(target.diskUnenforced ? {} : { disk: plan.diskGiB * GiB }),
    ...containerRates,
    nics: (req.nics ?? [{ network: 'default' }]).map((n) => ({ ...n, ...nicLimits })),
  };
  return {
    req: out,
    // VMs: QEMU throttles the root; containers have theirs in the request (the runtime's blkio throttles).
    rootLimits: target.processLimits
      ? { iopsRead: 0, iopsWrite: 0, bytesRead: 0, bytesWrite: 0 }
      : { iopsRead: d.readIops, iopsWrite: d.writeIops, bytesRead: d.readBps, bytesWrite: d.writeBps },
    ...(plan.class === 'dedicated' ? { dedicated: { vcpus: plan.vcpus, memoryMiB: plan.memoryMiB } } : {}),
  };
}

/** What an instance counts against its project's quota (a plan's disk even where the pool cannot enforce it). */
export function instanceCounts(rec: { cpus: number; memory: number; disk: number }, plan?: PlanRecord): Counts {
  return {
    instances: 1,
    vcpus: rec.cpus,
    memoryMiB: Math.ceil(rec.memory / MiB),
    diskGiB: plan ? plan.diskGiB : Math.ceil(rec.disk / GiB),
  };
}
