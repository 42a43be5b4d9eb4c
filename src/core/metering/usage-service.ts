// The usage report of a project and month: the stored monthly rollups plus the hours still open in
// the checkpoints, per instance and summed; and its CSV form.
import type { Store } from '../../store/store.js';
import { keys } from '../../store/keys.js';
import { invalid } from '../../lib/errors.js';
import type { UsageReport, UsageRow } from '../../shared/trail-types.js';
import { addUsage, monthOfHour, zeroUsage, type Checkpoint, type Usage } from './meter-math.js';
import type { MonthRow } from './meter-service.js';

const round = (n: number, d = 4) => Math.round(n * 10 ** d) / 10 ** d;

/** The API row of one instance's usage (hours from seconds, GB-hours from GB-seconds). Pure. */
export function usageRow(uuid: string, name: string, u: Usage): UsageRow {
  return {
    instance: uuid,
    name,
    instanceHours: Object.fromEntries(Object.entries(u.seconds).sort().map(([p, s]) => [p, round(s / 3600)])),
    diskGbHours: round(u.diskGbSeconds / 3600),
    transferInBytes: Math.round(u.inBytes),
    transferOutBytes: Math.round(u.outBytes),
  };
}

/** The report of `project` in `month` from its month rows and the open checkpoints. Pure. */
export function buildReport(project: string, month: string, rows: readonly MonthRow[], open: readonly Checkpoint[]): UsageReport {
  const per = new Map<string, { name: string; usage: Usage }>();
  const add = (uuid: string, name: string, u: Usage) => {
    const cur = per.get(uuid) ?? { name, usage: zeroUsage() };
    cur.name = name;
    addUsage(cur.usage, u);
    per.set(uuid, cur);
  };
  for (const r of rows) for (const u of Object.values(r.hours)) add(r.uuid, r.name, u);
  for (const cp of open) if (cp.project === project && monthOfHour(cp.hour) === month) add(cp.uuid, cp.name, cp.usage);
  const total = zeroUsage();
  const instances = [...per.entries()].sort((a, b) => a[1].name.localeCompare(b[1].name) || a[0].localeCompare(b[0])).map(([uuid, v]) => {
    addUsage(total, v.usage);
    return usageRow(uuid, v.name, v.usage);
  });
  const { instance: _i, name: _n, ...totals } = usageRow('', '', total);
  return { project, month, instances, totals };
}

const csvCell = (s: string) => (/[",\n\r]/.test(s) || /^[=+\-@]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** CSV of a report: one line per instance and plan, then a total line per plan. Pure. */
export function reportCsv(r: UsageReport): string {
  const lines = ['project,month,instance,name,plan,instance_hours,disk_gb_hours,transfer_in_bytes,transfer_out_bytes'];
  const emit = (id: string, name: string, row: Omit<UsageRow, 'instance' | 'name'>) => {
    const plans = Object.entries(row.instanceHours);
    // Disk and transfer belong to the instance, not a plan: they go on its first line only.
    (plans.length ? plans : [['', 0] as [string, number]]).forEach(([plan, h], i) =>
      lines.push([r.project, r.month, id, name, plan, String(h), i === 0 ? String(row.diskGbHours) : '0', i === 0 ? String(row.transferInBytes) : '0', i === 0 ? String(row.transferOutBytes) : '0'].map(csvCell).join(',')),
    );
  };
  for (const row of r.instances) emit(row.instance, row.name, row);
  emit('TOTAL', '', r.totals);
  return lines.join('\r\n') + '\r\n';
}

/** Reads usage reports from the store. */
export class UsageService {
  constructor(private store: Store) {}

  /** The usage of `project` in `month` (YYYY-MM, UTC). */
  async report(project: string, month: string): Promise<UsageReport> {
    if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) throw invalid(`month ${JSON.stringify(month)} must be YYYY-MM`);
    const rows = (await this.store.list<MonthRow>(keys.usageMonth(project, month))).map((kv) => kv.value);
    const open = (await this.store.list<Checkpoint>(keys.meterCheckpoints)).map((kv) => kv.value);
    return buildReport(project, month, rows, open);
  }
}
