// What the meter samples, read from the instance records, volume sizes and the host's NIC counters.
import type { InstanceRecord } from '../instance-record.js';
import type { MeterSample } from './meter-math.js';
import type { NetCounters } from '../../host/net-counters.js';

/** Where samples come from (the daemon wires the real ones). */
export interface SampleSources {
  records(): Promise<InstanceRecord[]>;
  /** Size in bytes of a pool volume (cached by the caller: sizes change rarely). */
  volumeSize(pool: string, volume: string): Promise<number>;
  counters(dev: string): Promise<NetCounters | undefined>;
}

/** One sample per instance record (`at` is set by the meter). */
export async function collectSamples(src: SampleSources): Promise<MeterSample[]> {
  const out: MeterSample[] = [];
  for (const rec of await src.records()) {
    // The plans and scoping work add these fields; both are read as optional.
    const extra = rec as InstanceRecord & { plan?: string; project?: string };
    let diskBytes = rec.disk > 0 ? rec.disk : 0;
    for (const v of rec.volumes ?? []) diskBytes += await src.volumeSize(v.pool, v.volume).catch(() => 0);
    const nics: MeterSample['nics'] = {};
    for (const n of rec.nics) {
      const c = await src.counters(n.tap);
      if (c) nics[n.tap] = c;
    }
    out.push({ uuid: rec.uuid, project: extra.project ?? 'default', name: rec.name, plan: extra.plan ?? 'none', running: rec.state === 'running', diskBytes, nics, at: 0 });
  }
  return out;
}

/** A volume-size lookup that asks `size` at most once per `ttlMs` per volume. */
export function cachedSizes(size: (pool: string, volume: string) => Promise<number>, ttlMs = 10 * 60_000, now = Date.now): (pool: string, volume: string) => Promise<number> {
  const cache = new Map<string, { v: number; at: number }>();
  return async (pool, volume) => {
    const k = `${pool}/${volume}`;
    const c = cache.get(k);
    if (c && now() - c.at < ttlMs) return c.v;
    const v = await size(pool, volume);
    cache.set(k, { v, at: now() });
    return v;
  };
}
