/** `nimbo rename OLD NEW` and `nimbo update NAME ...`: PATCH /instances/{name}. */
import { Option, type Command } from 'commander';
import type { Instance, InstancePatch } from '../../shared/api-types.js';
import { CliError, EXIT } from '../errors.js';
import { collect, intInRange, parseName, parseSize } from '../validate.js';
import { attachExamples } from '../examples.js';
import { parseLabels } from './instance-input.js';
import { clientFor, formatOf, outResult, writeOutputOption } from './common.js';

interface UpdateOptions {
  description?: string;
  label?: string[];
  removeLabel?: string[];
  autostart?: 'last-state' | 'always' | 'never';
  cpus?: number;
  memory?: string;
}

/** The PATCH body of `nimbo update` (labels merged into `current` ones: --label sets, --remove-label drops). */
export function updateBody(o: UpdateOptions, current?: Record<string, string>): InstancePatch {
  const body: InstancePatch = {};
  if (o.description !== undefined) body.description = o.description;
  if (o.label?.length || o.removeLabel?.length) {
    const labels = { ...current, ...parseLabels(o.label ?? []) };
    for (const k of o.removeLabel ?? []) {
      if (o.label?.some((l) => l.startsWith(`${k}=`))) throw new CliError(`--label ${k} and --remove-label ${k} contradict each other`, { exitCode: EXIT.usage });
      delete labels[k];
    }
    body.labels = labels;
  }
  if (o.autostart !== undefined) body.autostart = o.autostart;
  if (o.cpus !== undefined) body.cpus = o.cpus;
  if (o.memory !== undefined) body.memory = o.memory;
  if (Object.keys(body).length === 0) {
    throw new CliError('nothing to change: give --description, --label, --remove-label, --autostart, --cpus or --memory', { exitCode: EXIT.usage });
  }
  return body;
}

/** Register `nimbo rename` and `nimbo update` on the program. */
export function registerUpdateCommands(program: Command): void {
  program
    .command('rename')
    .summary('rename an instance (it may be running; host objects, addresses and snapshots stay)')
    .description(
      'rename an instance. It may be running: nothing on the host changes (runtime ids, run dirs, taps and volumes come from its id), ' +
        'its addresses, snapshots, attached volumes and forwards follow, and its DNS name on its networks becomes the new one. ' +
        'Waits up to 5 s for an operation on the instance to end; a taken name is refused.',
    )
    .argument('<name>', 'instance to rename', (v: string) => parseName(v, 'instance name'))
    .argument('<new-name>', 'its new name', (v: string) => parseName(v, 'instance name'))
    .addOption(writeOutputOption('the renamed Instance'))
    .action(async (name: string, to: string, _o: unknown, cmd: Command) => {
      const inst = await clientFor(cmd).updateInstance(name, { name: to });
      outResult(formatOf(cmd), inst, `Renamed ${name} to ${inst.name}`);
    });

  program
    .command('update')
    .summary("change an instance's description, labels, autostart, or (stopped) CPUs and memory")
    .description(
      "change an instance's settings. Description, labels and autostart change at any time; --cpus and --memory only while it is stopped " +
        '(they apply at its next start). --autostart says what a host reboot does: last-state brings back what ran, always starts it, never leaves it stopped.',
    )
    .argument('<name>', 'instance name', (v: string) => parseName(v, 'instance name'))
    .option('--description <text>', 'free text ("" clears it)')
    .option('--label <key=value>', 'set a label (repeatable; other labels are kept)', collect)
    .option('--remove-label <key>', 'remove a label (repeatable)', collect)
    .addOption(new Option('--autostart <policy>', 'after a host reboot').choices(['last-state', 'always', 'never']))
    .option('--cpus <n>', 'CPUs (stopped only)', intInRange('--cpus', 1, 64))
    .option('--memory <size>', 'memory, e.g. 2GiB (stopped only)', (v: string) => parseSize(v, 'memory'))
    .addOption(writeOutputOption('the updated Instance'))
    .action(async (name: string, o: UpdateOptions, cmd: Command) => {
      const client = clientFor(cmd);
      updateBody(o); // a usage error before any request
      const current = o.label?.length || o.removeLabel?.length ? (await client.getInstance(name)).labels : undefined;
      const inst: Instance = await client.updateInstance(name, updateBody(o, current));
      outResult(formatOf(cmd), inst, `Updated ${name}`);
    });
  attachExamples(program);
}
