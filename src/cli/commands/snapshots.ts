/** `nimbo snapshot create|list|restore|delete|schedule`: snapshots of whole instances. */
import type { Command } from 'commander';
import type { InstanceSnapshot, InstanceSnapshotCreate, SnapshotScheduleSet } from '../../shared/storage-types.js';
import { CliError } from '../errors.js';
import { outputOption, renderDetail, renderList } from '../output.js';
import { parseName } from '../validate.js';
import { clientFor, finishOperation, formatOf, out, withWaitOptions, type WaitOptions } from './common.js';

const enc = encodeURIComponent;
const EXPIRY = /^[1-9][0-9]{0,4}[mhdw]$/;

function expiry(v: string): string {
  if (!EXPIRY.test(v)) throw new CliError(`--expiry ${JSON.stringify(v)} must look like 30m, 12h, 7d or 2w`);
  return v;
}

/** Register the instance snapshot commands on the program. */
export function registerSnapshotCommands(program: Command): void {
  const snap = program.command('snapshot').alias('snap').description('snapshots of whole instances: all disks of a VM (--stateful adds RAM), all volumes of a container');

  withWaitOptions(
    snap
      .command('create')
      .description('snapshot an instance (a running VM pauses briefly while QEMU writes it; a running container is frozen while its volumes are snapshotted in their pool)')
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
      const { snapshots } = await clientFor(cmd).json<{ snapshots: InstanceSnapshot[] }>('GET', `/instances/${enc(instance)}/snapshots`);
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

  snap
    .command('schedule')
    .description('take snapshots on a schedule (cron in UTC, e.g. "0 */6 * * *" or @daily) and expire them')
    .argument('<instance>', 'instance name')
    .argument('[cron]', '5-field cron or @hourly, @daily, @weekly, @monthly')
    .option('--expiry <duration>', 'keep each scheduled snapshot this long (30m, 12h, 7d, 2w)', expiry)
    .option('--stateful', 'stateful snapshots while the VM runs')
    .option('--off', 'stop the schedule')
    .addOption(outputOption())
    .action(async (instance: string, cron: string | undefined, o: { expiry?: string; stateful?: boolean; off?: boolean }, cmd: Command) => {
      const client = clientFor(cmd);
      if (o.off) {
        await client.json('DELETE', `/instances/${enc(instance)}/snapshot-schedule`);
        return out(`Stopped scheduled snapshots of ${instance}`);
      }
      if (!cron) throw new CliError('give a cron expression, or --off');
      const body: SnapshotScheduleSet = { cron };
      if (o.expiry) body.expiry = o.expiry;
      if (o.stateful) body.stateful = true;
      const s = await client.json<SnapshotScheduleSet>('PUT', `/instances/${enc(instance)}/snapshot-schedule`, { body });
      out(renderDetail(s, [['cron', 'cron'], ['expiry', 'expiry'], ['stateful', 'stateful']], formatOf(cmd)));
    });
}
