// The accounting of metering, pure: a checkpoint per instance (last sample, last-seen NIC counters, the
// open hour) advanced by samples into hourly rows. A sample's interval counts with the state of the
// previous sample (running or not, its plan and disk size); transfer is the growth of each NIC's
// counters, where a new ifindex or a smaller value means the device was recreated (its counters restart).

/** What the sampler sees of one instance at one moment. */
export interface MeterSample {
  uuid: string;
  project: string;
  name: string;
  /** Plan name ('none' without a plan). */
  plan: string;
  running: boolean;
  /** Root disk plus attached volumes, bytes. */
  diskBytes: number;
  /** Host-side counters of each NIC device (absent when the device is not there). */
  nics: Record<string, { ifindex: number; rx: number; tx: number }>;
  /** Sample time, ms. */
  at: number;
}

/** Usage of one instance in one hour (or summed over many). */
export interface Usage {
  /** Running seconds by plan. */
  seconds: Record<string, number>;
  /** Disk byte-seconds / 1e9: GB-seconds. */
  diskGbSeconds: number;
  /** Bytes the instance received (host-side tx of its tap/veth) and sent (host-side rx). */
  inBytes: number;
  outBytes: number;
}

/** The persisted state of one instance's meter. */
export interface Checkpoint {
  uuid: string;
  project: string;
  name: string;
  /** The previous sample's state, which the next interval is charged with. */
  last: Pick<MeterSample, 'plan' | 'running' | 'diskBytes' | 'at'>;
  /** Last-seen counters per device (the offsets transfer is measured from). */
  counters: Record<string, { ifindex: number; rx: number; tx: number }>;
  /** The open hour (YYYY-MM-DDTHH, UTC) and what it has so far. */
  hour: string;
  usage: Usage;
}

/** A closed hour of one instance. */
export interface HourRow {
  uuid: string;
  project: string;
  name: string;
  hour: string;
  usage: Usage;
}

const HOUR_MS = 3_600_000;

/** Empty usage. */
export const zeroUsage = (): Usage => ({ seconds: {}, diskGbSeconds: 0, inBytes: 0, outBytes: 0 });

/** The UTC hour (YYYY-MM-DDTHH) of a time in ms. */
export const hourOf = (ms: number): string => new Date(ms).toISOString().slice(0, 13);
/** The UTC month (YYYY-MM) of an hour string. */
export const monthOfHour = (hour: string): string => hour.slice(0, 7);

/** Add `b` into `a` (in place); returns `a`. */
export function addUsage(a: Usage, b: Usage): Usage {
  for (const [p, s] of Object.entries(b.seconds)) a.seconds[p] = (a.seconds[p] ?? 0) + s;
  a.diskGbSeconds += b.diskGbSeconds;
  a.inBytes += b.inBytes;
  a.outBytes += b.outBytes;
  return a;
}

/** The first checkpoint of an instance, from its first sample (nothing is charged before it). */
export function firstCheckpoint(s: MeterSample): Checkpoint {
  return { uuid: s.uuid, project: s.project, name: s.name, last: { plan: s.plan, running: s.running, diskBytes: s.diskBytes, at: s.at }, counters: { ...s.nics }, hour: hourOf(s.at), usage: zeroUsage() };
}

/** Bytes a counter grew by since `prev` (a recreated device restarts at 0: all its count is new). */
export function counterDelta(prev: { ifindex: number; v: number } | undefined, cur: { ifindex: number; v: number }): number {
  if (!prev || prev.ifindex !== cur.ifindex || cur.v < prev.v) return cur.v;
  return cur.v - prev.v;
}

/**
 * Advance `cp` by sample `s`: the interval since the last sample is split at hour boundaries and charged
 * with the last sample's state; transfer since the last sample goes to the hour of `s`. Returns the new
 * checkpoint and the hours that closed. A sample not after the last one changes nothing but counters.
 */
export function advance(cp: Checkpoint, s: MeterSample): { checkpoint: Checkpoint; closed: HourRow[] } {
  const closed: HourRow[] = [];
  let hour = cp.hour;
  let usage: Usage = structuredClone(cp.usage);
  const close = () => closed.push({ uuid: cp.uuid, project: cp.project, name: cp.name, hour, usage });
  let t = cp.last.at;
  const end = Math.max(s.at, t);
  while (t < end) {
    const hourEnd = (Math.floor(t / HOUR_MS) + 1) * HOUR_MS;
    const upto = Math.min(end, hourEnd);
    const secs = (upto - t) / 1000;
    if (hourOf(t) !== hour) {
      if (!isEmpty(usage)) close();
      hour = hourOf(t);
      usage = zeroUsage();
    }
    if (cp.last.running) usage.seconds[cp.last.plan] = (usage.seconds[cp.last.plan] ?? 0) + secs;
    usage.diskGbSeconds += (cp.last.diskBytes / 1e9) * secs;
    t = upto;
  }
  if (hourOf(end) !== hour) {
    if (!isEmpty(usage)) close();
    hour = hourOf(end);
    usage = zeroUsage();
  }
  for (const [dev, c] of Object.entries(s.nics)) {
    const p = cp.counters[dev];
    // Host side: the tap's tx is what the guest received, its rx what the guest sent.
    usage.inBytes += counterDelta(p && { ifindex: p.ifindex, v: p.tx }, { ifindex: c.ifindex, v: c.tx });
    usage.outBytes += counterDelta(p && { ifindex: p.ifindex, v: p.rx }, { ifindex: c.ifindex, v: c.rx });
  }
  // A device absent now keeps its last-seen counters: if it comes back unchanged, nothing is counted twice.
  const counters = { ...cp.counters, ...s.nics };
  return {
    checkpoint: { uuid: cp.uuid, project: s.project, name: s.name, last: { plan: s.plan, running: s.running, diskBytes: s.diskBytes, at: end }, counters, hour, usage },
    closed,
  };
}

/** The open hour of a checkpoint as a row (to show the current hour's usage before it closes). */
export function openRow(cp: Checkpoint): HourRow {
  return { uuid: cp.uuid, project: cp.project, name: cp.name, hour: cp.hour, usage: cp.usage };
}

function isEmpty(u: Usage): boolean {
  return Object.keys(u.seconds).length === 0 && u.diskGbSeconds === 0 && u.inBytes === 0 && u.outBytes === 0;
}
