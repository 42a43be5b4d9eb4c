// The meter: every minute (and at shutdown) sample each instance, advance its checkpoint and write the
// checkpoint and any closed hours in ONE store transaction. A restart therefore resumes exactly from the
// last committed checkpoint: nothing is lost (the gap is charged at the next sample) and nothing is
// counted twice (a closed hour and the checkpoint that closed it are written together).
import type { Store, TxnOp } from '../../store/store.js';
import { keys } from '../../store/keys.js';
import type { Logger } from '../../lib/log.js';
import { addUsage, advance, firstCheckpoint, monthOfHour, zeroUsage, type Checkpoint, type HourRow, type MeterSample, type Usage } from './meter-math.js';

/** The usage of one instance in one month, by hour (the stored rollup). */
export interface MonthRow {
  uuid: string;
  project: string;
  name: string;
  month: string;
  hours: Record<string, Usage>;
}

/** Merge closed hours into month rows (pure): rows keyed by `project/month/uuid`. */
export function rollup(rows: Map<string, MonthRow>, closed: readonly HourRow[]): Map<string, MonthRow> {
  for (const h of closed) {
    const month = monthOfHour(h.hour);
    const k = `${h.project}/${month}/${h.uuid}`;
    const row = rows.get(k) ?? { uuid: h.uuid, project: h.project, name: h.name, month, hours: {} };
    row.name = h.name;
    row.hours[h.hour] = addUsage(row.hours[h.hour] ?? zeroUsage(), h.usage);
    rows.set(k, row);
  }
  return rows;
}

/** Samples instances and keeps their checkpoints and monthly rollups in the store. */
export class Meter {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private store: Store,
    private samples: () => Promise<MeterSample[]>,
    private log: Logger,
    private now: () => number = Date.now,
  ) {}

  /** Sample now, then every `everyMs` (default 60 s). */
  start(everyMs = 60_000): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), everyMs);
    this.timer.unref();
  }

  /** Stop sampling after one last sample (the shutdown checkpoint). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.tick();
  }

  /** Take one sample of every instance (ticks never overlap). */
  tick(): Promise<void> {
    this.running = (this.running ?? Promise.resolve()).then(() => this.sampleAll()).catch((e) => this.log.warn({ err: e }, 'metering: a sample failed'));
    return this.running;
  }

  private async sampleAll(): Promise<void> {
    const at = this.now();
    const seen = new Set<string>();
    const cps = new Map((await this.store.list<Checkpoint>(keys.meterCheckpoints)).map((kv) => [kv.value.uuid, kv] as const));
    for (const s0 of await this.samples()) {
      const s = { ...s0, at };
      seen.add(s.uuid);
      const kv = cps.get(s.uuid);
      if (!kv) {
        await this.store.put(keys.meterCheckpoint(s.uuid), firstCheckpoint(s), { expectRevision: 0 });
        continue;
      }
      const { checkpoint, closed } = advance(kv.value, s);
      await this.commit(checkpoint, closed, kv.modRevision, false);
    }
    // An instance that is gone: its open hour closes (up to one interval after its last sample is not charged).
    for (const [uuid, kv] of cps) {
      if (seen.has(uuid)) continue;
      const cp = kv.value;
      await this.commit(cp, [{ uuid, project: cp.project, name: cp.name, hour: cp.hour, usage: cp.usage }], kv.modRevision, true);
    }
  }

  private async commit(cp: Checkpoint, closed: HourRow[], cpRevision: number, remove: boolean): Promise<void> {
    const compares = [{ key: keys.meterCheckpoint(cp.uuid), modRevision: cpRevision }];
    const ops: TxnOp[] = [remove ? { type: 'delete', key: keys.meterCheckpoint(cp.uuid) } : { type: 'put', key: keys.meterCheckpoint(cp.uuid), value: cp }];
    const rows = new Map<string, MonthRow>();
    const read = new Set<string>();
    for (const h of closed) {
      const key = keys.usageRow(h.project, monthOfHour(h.hour), h.uuid);
      if (read.has(key)) continue;
      read.add(key);
      const cur = await this.store.get<MonthRow>(key);
      compares.push({ key, modRevision: cur?.modRevision ?? 0 });
      if (cur) rows.set(`${h.project}/${monthOfHour(h.hour)}/${h.uuid}`, cur.value);
    }
    rollup(rows, closed);
    for (const row of rows.values()) ops.push({ type: 'put', key: keys.usageRow(row.project, row.month, row.uuid), value: row });
    if (!(await this.store.txn(compares, ops))) this.log.warn({ instance: cp.uuid }, 'metering: a checkpoint changed under the meter; this sample is dropped and the next one resumes from the stored checkpoint');
  }
}
