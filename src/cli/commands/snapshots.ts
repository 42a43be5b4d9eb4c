/** `nimbo snapshot create|list|restore|delete|schedule`: snapshots of whole instances. */
import type { Command } from 'commander';
import type { InstanceSnapshot, InstanceSnapshotCreate, SnapshotScheduleSet } from '../../shared/storage-types.js';
import { CliError, EXIT } from '../errors.js';
import { outputOption, renderDetail, renderList } from '../output.js';
import { parseName } from '../validate.js';
import type { ApiClient } from '../client.js';
import { clientFor, finishOperation, formatOf, out, outResult, withWaitOptions, type WaitOptions } from './common.js';
import { attachExamples } from '../examples.js';

const enc = encodeURIComponent;
const EXPIRY = /^[1-9][0-9]{0,4}[mhdw]$/;

function expiry(v: string): string {
  if (!EXPIRY.test(v)) throw new CliError(`--expiry ${JSON.stringify(v)} must look like 30m, 12h, 7d or 2w`);
  return v;
}

/** A snapshot schedule as GET/PUT /instances/{name}/snapshot-schedule return it. */
export interface ScheduleShown {
  cron: string;
  expiry?: string;
  stateful?: boolean;
  lastRun?: string;
  nextRun?: string;
}

/** The schedule's real values as detail rows. */
export function scheduleFields(s: ScheduleShown): [string, string][] {
  return [
    ['cron', `${s.cron} (UTC)`],
    ['expiry', s.expiry ?? 'never'],
    ['stateful', s.stateful ? 'yes (while the VM runs)' : 'no'],
    ['next run', s.nextRun ?? 'none within a year'],
  ];
}

/** The schedule of an instance, or undefined when none is set (404, also from a daemon without the route). */
export async function fetchSchedule(client: ApiClient, instance: string): Promise<ScheduleShown | undefined> {
  try {
    return await client.json<ScheduleShown>('GET', `/instances/${enc(instance)}/snapshot-schedule`);
  } catch (e) {
    if (e instanceof CliError && e.status === 404) return undefined;
    throw e;
  }
}

/** One line for `nimbo info`: the schedule, or "none". */
export function scheduleSummary(s: ScheduleShown | undefined): string {
  if (!s) return 'none';
  return `${s.cron}${s.expiry ? `, keep ${s.expiry}` : ''}${s.stateful ? ', stateful' : ''}; next ${s.nextRun ?? 'none within a year'}`;
}

/** Register the instance snapshot commands on the program. */
export function registerSnapshotCommands(program: Command): void {
  const snap = program.command('snapshot').alias('snap').description('snapshots of whole instances: all disks of a VM (--stateful adds RAM), all volumes of a container');

  withWaitOptions(
    snap
      .command('create')
      .description('snapshot an instance (a running VM: its guest agent, if any, freezes its filesystems for the instant; --stateful pauses it while QEMU writes RAM too; a running container is frozen while its volumes are snapshotted in their pool)')
      .argument('<instance>', 'instance name')
      .argument('[name]', 'snapshot name (default: snap-YYYYMMDD-HHMMSS)', (v: string) => parseName(v, 'snapshot name'))
      .option('--stateful', 'also save the running VM memory: restore brings it back running where it was (VMs only)')
      .option('--expiry <duration>', 'delete it automatically after 30m, 12h, 7d, 2w, ...', expiry),
  ).action(async (instance: string, name: string | undefined, o: WaitOptions & { stateful?: boolean; expiry?: string }, cmd: Command) => {
    const client = clientFor(cmd);
    const body: InstanceSnapshotCreate = {};
    if (name) body.name = name;
    if (o.stateful) body.stateful = true;
    if (o.expiry) body.expiry = o.expiry;
    const op = await client.operation('POST', `/instances/${enc(instance)}/snapshots`, { body });
    await finishOperation(op, client, o, (f) => `Created snapshot ${(f.result as InstanceSnapshot | undefined)?.name ?? name ?? ''} of ${instance}`);
  });

  snap
    .command('list')
    .alias('ls')
    .description("list an instance's snapshots")
    .argument('<instance>', 'instance name')
    .addOption(outputOption())
    .action(async (instance: string, _o: unknown, cmd: Command) => {
      const snapshots = await clientFor(cmd).listAll<InstanceSnapshot>(`/instances/${enc(instance)}/snapshots`, 'snapshots');
      out(
        renderList(
          snapshots,
          [
            { header: 'NAME', value: (s) => s.name },
            { header: 'CREATED', value: (s) => s.createdAt },
            { header: 'STATEFUL', value: (s) => (s.stateful ? 'yes' : 'no') },
            { header: 'DISKS', value: (s) => String(s.disks.length) },
            { header: 'EXPIRES', value: (s) => s.expiresAt ?? '' },
          ],
          formatOf(cmd),
        ),
      );
    });

  withWaitOptions(
    snap.command('restore').description('restore a snapshot (disk-only and container snapshots: the instance must be stopped)').argument('<instance>', 'instance name').argument('<name>', 'snapshot name'),
  ).action(async (instance: string, name: string, o: WaitOptions, cmd: Command) => {
    const client = clientFor(cmd);
    const op = await client.operation('POST', `/instances/${enc(instance)}/snapshots/${enc(name)}/restore`);
    await finishOperation(op, client, o, () => `Restored ${instance} to snapshot ${name}`);
  });

  withWaitOptions(
    snap.command('delete').alias('rm').description('delete a snapshot').argument('<instance>', 'instance name').argument('<name>', 'snapshot name'),
  ).action(async (instance: string, name: string, o: WaitOptions, cmd: Command) => {
    const client = clientFor(cmd);
    const op = await client.operation('DELETE', `/instances/${enc(instance)}/snapshots/${enc(name)}`);
    await finishOperation(op, client, o, () => `Deleted snapshot ${name} of ${instance}`);
  });

  const schedule = snap
    .command('schedule')
    .description('take snapshots on a schedule (cron in UTC, e.g. "0 */6 * * *", "30 2 * * MON-FRI" or @daily) and expire them; `schedule show NAME` reads it back')
    .argument('<instance>', 'instance name')
    .argument('[cron]', '5-field cron (names JAN-DEC, SUN-SAT allowed) or @hourly, @daily, @weekly, @monthly, @yearly')
    .option('--expiry <duration>', 'keep each scheduled snapshot this long (30m, 12h, 7d, 2w)', expiry)
    .option('--stateful', 'stateful snapshots while the VM runs')
    .option('--off', 'stop the schedule')
    .addOption(outputOption())
    .action(async (instance: string, cron: string | undefined, o: { expiry?: string; stateful?: boolean; off?: boolean }, cmd: Command) => {
      const client = clientFor(cmd);
      if (o.off) {
        if (cron !== undefined || o.expiry !== undefined || o.stateful) throw new CliError('--off takes no cron, --expiry or --stateful', { exitCode: EXIT.usage });
        await client.json('DELETE', `/instances/${enc(instance)}/snapshot-schedule`);
        // With -o json|yaml: null, the schedule there is now.
        return outResult(formatOf(cmd), null, `Stopped scheduled snapshots of ${instance}`);
      }
      if (!cron) throw new CliError('give a cron expression, or --off');
      const body: SnapshotScheduleSet = { cron };
      if (o.expiry) body.expiry = o.expiry;
      if (o.stateful) body.stateful = true;
      const s = await client.json<ScheduleShown>('PUT', `/instances/${enc(instance)}/snapshot-schedule`, { body });
      out(renderDetail(s, scheduleFields(s), formatOf(cmd)));
    });

  schedule
    .command('show')
    .description("show an instance's snapshot schedule: cron, expiry, stateful and the next run")
    .argument('<instance>', 'instance name')
    .addOption(outputOption())
    .action(async (instance: string, _o: unknown, cmd: Command) => {
      const s = await fetchSchedule(clientFor(cmd), instance);
      if (!s) throw new CliError(`${instance} has no snapshot schedule (set one with: nimbo snapshot schedule ${instance} @daily --expiry 7d)`, { kind: 'api', code: 'NotFound', status: 404 });
      // `schedule` has -o too and commander gives it the flag wherever it stands, so ask both.
      out(renderDetail(s, scheduleFields(s), cmd.getOptionValueSource('output') === 'cli' ? formatOf(cmd) : formatOf(cmd.parent!)));
    });
  attachExamples(snap);
}
