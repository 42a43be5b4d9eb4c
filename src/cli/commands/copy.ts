/** `nimbo copy SRC DST`: a new instance from another one's disks (like `incus copy`). */
import type { Command } from 'commander';
import type { Instance, InstanceCopy } from '../../shared/api-types.js';
import { parseName } from '../validate.js';
import { clientFor, finishOperation, withWaitOptions, type WaitOptions } from './common.js';
import { attachExamples } from '../examples.js';

/** Register `nimbo copy` on the program. */
export function registerCopyCommand(program: Command): void {
  withWaitOptions(
    program
      .command('copy')
      .alias('cp')
      .summary('copy an instance to a new one (the source stopped, or one of its snapshots)')
      .description(
        'copy an instance to a new one: same image, CPUs, memory, limits, networks and security groups; ' +
          'new MACs and addresses, and (containers) a new id range. The source must be stopped, unless --snapshot is given. ' +
          'VM root disks are linked clones where the pool can; container roots are copied (dir: only the overlay changes) and re-shifted. ' +
          'Attached volumes and snapshot schedules are not copied.',
      )
      .argument('<source>', 'instance to copy', (v: string) => parseName(v, 'instance name'))
      .argument('<name>', 'name of the new instance', (v: string) => parseName(v, 'instance name'))
      .option('--snapshot <snapshot>', 'copy this snapshot of the source (the source may then be running)', (v: string) => parseName(v, 'snapshot name'))
      .option('--start', 'start the copy once made'),
  ).action(async (source: string, name: string, o: WaitOptions & { snapshot?: string; start?: boolean }, cmd: Command) => {
    const client = clientFor(cmd);
    const body: InstanceCopy = { name };
    if (o.snapshot) body.snapshot = o.snapshot;
    if (o.start) body.start = true;
    const op = await client.copyInstance(source, body);
    await finishOperation(op, client, o, (f) => {
      const inst = f.result as Instance | undefined;
      return `Copied ${source}${o.snapshot ? ` (snapshot ${o.snapshot})` : ''} to ${name}${inst?.addresses.length ? ` (${inst.addresses.join(', ')})` : ''}`;
    });
  });
  attachExamples(program);
}
