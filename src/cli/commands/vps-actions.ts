/** VPS actions as verbs: `nimbo reboot|shutdown|poweroff|powercycle|rebuild|rescue|unrescue|resize|reset-password|set-keys NAME ...`. */
import { randomBytes } from 'node:crypto';
import { Option, type Command } from 'commander';
import type { Operation } from '../../shared/api-types.js';
import type { VpsAction, VpsActionResult } from '../../shared/vps-action-types.js';
import { CliError, EXIT } from '../errors.js';
import { attachExamples } from '../examples.js';
import { readKeyFile } from '../ssh-keys.js';
import { collect, intInRange, parseName, parseSize, sizeToBytes } from '../validate.js';
import { clientFor, finishOperation, withWaitOptions, type WaitOptions } from './common.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const nameArg = (v: string) => parseName(v, 'instance name');

/** The summary line of a finished VPS action: its result's message. */
const summary = (final: Operation) => (final.result as VpsActionResult | undefined)?.message ?? `${final.kind}: ${final.status}`;

/** Send one action and follow it (or print its id with --no-wait). */
async function run(cmd: Command, name: string, body: VpsAction, o: WaitOptions, note?: string): Promise<void> {
  const client = clientFor(cmd);
  await finishOperation(await client.vpsAction(name, body), client, o, summary);
  if (note && (o.output ?? 'table') === 'table') process.stderr.write(`${note}\n`);
}

/** A size option as a whole number of `unit` (MiB or GiB), for the API's integer fields. */
function whole(value: string, unit: number, what: string): number {
  const bytes = sizeToBytes(parseSize(value, what));
  if (bytes % unit !== 0) throw new CliError(`${what} ${value} is not a whole number of ${unit === GiB ? 'GiB' : 'MiB'}`, { exitCode: EXIT.usage });
  return bytes / unit;
}

/** The body of `nimbo resize` from its options. */
export function resizeBody(o: { plan?: string; cpus?: number; memory?: string; disk?: string }): VpsAction {
  if (o.plan !== undefined && (o.cpus !== undefined || o.memory !== undefined || o.disk !== undefined)) {
    throw new CliError('give --plan, or --cpus/--memory/--disk, not both', { exitCode: EXIT.usage });
  }
  const body: VpsAction = { type: 'resize' };
  if (o.plan !== undefined) body.plan = o.plan;
  if (o.cpus !== undefined) body.vcpus = o.cpus;
  if (o.memory !== undefined) body.memoryMiB = whole(o.memory, MiB, 'memory');
  if (o.disk !== undefined) body.diskGiB = whole(o.disk, GiB, 'disk');
  if (Object.keys(body).length === 1) throw new CliError('nothing to resize: give --plan, --cpus, --memory or --disk', { exitCode: EXIT.usage });
  return body;
}

/** Register the VPS action verbs on the program. */
export function registerVpsActionCommands(program: Command): void {
  const timeout = () => new Option('--timeout <s>', 'seconds of graceful stop before a hard one (default 30)').argParser(intInRange('--timeout', 1, 3600));
  const simple: [string, VpsAction['type'], string][] = [
    ['poweroff', 'power_off', 'power an instance off at once (a hard stop, like pulling the plug); it stays off'],
    ['powercycle', 'power_cycle', 'power an instance off hard and on again'],
    ['unrescue', 'unrescue', 'leave rescue: stop the rescue system, delete its disk, boot the instance from its own root'],
  ];
  for (const [verb, type, help] of [
    ['reboot', 'reboot', 'reboot an instance gracefully (ACPI power button / stop signal, hard after --timeout), then boot it'],
    ['shutdown', 'shutdown', 'shut an instance down gracefully (hard after --timeout); it stays off'],
  ] as const) {
    withWaitOptions(program.command(verb).description(help).argument('<name>', 'instance name', nameArg).addOption(timeout()))
      .action(async (name: string, o: WaitOptions & { timeout?: number }, cmd: Command) => run(cmd, name, { type, ...(o.timeout ? { timeout: o.timeout } : {}) }, o));
  }
  for (const [verb, type, help] of simple) {
    withWaitOptions(program.command(verb).description(help).argument('<name>', 'instance name', nameArg))
      .action(async (name: string, o: WaitOptions, cmd: Command) => run(cmd, name, { type } as VpsAction, o));
  }

  withWaitOptions(
    program
      .command('rebuild')
      .description('re-create an instance\'s root disk from an image, keeping its id, name, addresses, MACs, SSH keys and attached volumes (everything on the old root is lost)')
      .argument('<name>', 'instance name', nameArg)
      .argument('<image>', 'the image to rebuild from', (v: string) => parseName(v, 'image name')),
  ).action(async (name: string, image: string, o: WaitOptions, cmd: Command) => run(cmd, name, { type: 'rebuild', image }, o));

  withWaitOptions(
    program
      .command('rescue')
      .description("boot a rescue system with the instance's own root disk attached as its second disk (VMs); `nimbo unrescue` goes back")
      .argument('<name>', 'instance name', nameArg)
      .option('--image <image>', 'the rescue image (default: tiny, which sees the root as /dev/vdc)', (v: string) => parseName(v, 'image name')),
  ).action(async (name: string, o: WaitOptions & { image?: string }, cmd: Command) => run(cmd, name, { type: 'rescue', ...(o.image ? { image: o.image } : {}) }, o));

  withWaitOptions(
    program
      .command('resize')
      .description('resize an instance to a plan or to CPUs/memory/disk: the disk grows online; a running VM grows CPUs and memory live up to the maximum set at launch (--max-cpus, --max-memory), other changes need a stop; a disk never shrinks')
      .argument('<name>', 'instance name', nameArg)
      .option('--plan <plan>', "a plan's vCPUs, memory and disk", (v: string) => parseName(v, 'plan name'))
      .option('--cpus <n>', 'vCPUs (a running VM: more, up to its --max-cpus)', intInRange('--cpus', 1, 64))
      .option('--memory <size>', 'memory, whole MiB, e.g. 2GiB (a running VM: more in 128 MiB steps, up to its --max-memory)')
      .option('--disk <size>', 'root disk, whole GiB, e.g. 20GiB (grows online)'),
  ).action(async (name: string, o: WaitOptions & { plan?: string; cpus?: number; memory?: string; disk?: string }, cmd: Command) => run(cmd, name, resizeBody(o), o));

  withWaitOptions(
    program
      .command('reset-password')
      .description("set root's password (a new random one unless --password-stdin): at once in a running VM with a guest agent, else at the instance's next boot")
      .argument('<name>', 'instance name', nameArg)
      .option('--password-stdin', 'read the new password from the first line of stdin (never from the command line)'),
  ).action(async (name: string, o: WaitOptions & { passwordStdin?: boolean }, cmd: Command) => {
    const given = o.passwordStdin ? (await readAll()).split(/\r?\n/)[0]! : undefined;
    const password = given ?? randomBytes(15).toString('base64url');
    // A generated password is shown once, on stderr; the daemon keeps only its hash.
    await run(cmd, name, { type: 'password_reset', password }, o, given === undefined ? `New root password for ${name}: ${password}` : undefined);
  });

  withWaitOptions(
    program
      .command('set-keys')
      .description("replace root's SSH keys: at once inside a running container, at the next boot otherwise")
      .argument('<name>', 'instance name', nameArg)
      .option('--ssh-key <file>', 'a public key file or a literal key (repeatable)', collect)
      .option('--none', 'remove every key'),
  ).action(async (name: string, o: WaitOptions & { sshKey?: string[]; none?: boolean }, cmd: Command) => {
    if (!!o.none === !!o.sshKey?.length) throw new CliError('give --ssh-key (repeatable) or --none', { exitCode: EXIT.usage });
    await run(cmd, name, { type: 'ssh_keys', keys: o.none ? [] : o.sshKey!.flatMap(readKeyFile) }, o);
  });
  attachExamples(program);
}

/** All of stdin as text. */
async function readAll(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
