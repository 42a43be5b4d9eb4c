// What the meter samples, read from the instance records, volume sizes and the host's NIC counters.
import { projectOfRecord, type InstanceRecord } from '../instance-record.js';
import type { MeterSample } from './meter-math.js';
import type { NetCounters } from '../../host/net-counters.js';

/** Where samples come from (the daemon wires the real ones). */
export interface SampleSources {
  records(): Promise<InstanceRecord[]>;
  /** Size in bytes of a project's pool volume (cached by the caller: sizes change rarely). */
  volumeSize(project: string, pool: string, volume: string): Promise<number>;
  counters(dev: string): Promise<NetCounters | undefined>;
}

/** One sample per instance record (`at` is set by the meter). */
export async function collectSamples(src: SampleSources): Promise<MeterSample[]> {
  const out: MeterSample[] = [];
  for (const rec of await src.records()) {
    const project = projectOfRecord(rec);
    let diskBytes = rec.disk > 0 ? rec.disk : 0;
    for (const v of rec.volumes ?? []) diskBytes += await src.volumeSize(project, v.pool, v.volume).catch(() => 0);
    const nics: MeterSample['nics'] = {};
    for (const n of rec.nics) {
      const c = await src.counters(n.tap);
      if (c) nics[n.tap] = c;
    }
    // A paused instance still holds its memory (and a rescued one's record says running): both are billed hours.
    out.push({ uuid: rec.uuid, project, name: rec.name, plan: rec.plan ?? 'none', running: rec.state === 'running' || rec.state === 'paused', diskBytes, nics, at: 0 });
  }
  return out;
}

/** A volume-size lookup that asks `size` at most once per `ttlMs` per volume. */
export function cachedSizes(size: SampleSources['volumeSize'], ttlMs = 10 * 60_000, now = Date.now): SampleSources['volumeSize'] {
  const cache = new Map<string, { v: number; at: number }>();
  return async (project, pool, volume) => {
    const k = `${project}/${pool}/${volume}`;
    const c = cache.get(k);
    if (c && now() - c.at < ttlMs) return c.v;
    const v = await size(project, pool, volume);
    cache.set(k, { v, at: now() });
    return v;
  };
}
