/** Instance commands: launch, list, info, start|stop|restart|pause|resume, delete. */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { CliError, EXIT } from '../errors.js';
import { ACTIONS, type ActionName } from '../../shared/api-constants.js';
import type { InstanceAction, InstanceCreate } from '../../shared/api-types.js';
import { formatList } from '../format.js';
import { outputOption, renderDetail } from '../output.js';
import { renderFilteredList, withListOptions, type ListOptions } from '../list-view.js';
import { resolveSshKeys } from '../ssh-keys.js';
import { collect, intInRange, parseName, parseSize } from '../validate.js';
import { parseImageArg } from './image-fetch.js';
import { archColumnsFor, instanceColumns, instanceFields, instanceFilterKeys } from '../views.js';
import { runConsole } from '../console.js';
import { attachExamples } from '../examples.js';
import { deleteRefusal, parseLabels } from './instance-input.js';
import { MANY_NAMES_OUTPUT, clientFor, eachName, finishOperation, formatOf, out, withWaitOptions, type WaitOptions } from './common.js';
import { fetchSchedule, scheduleSummary } from './snapshots.js';
import { pullFile, streamExec } from '../streams.js';
import { GUEST_ARCHES, type GuestArch } from '../../shared/arch-types.js';

const PAST: Record<ActionName, string> = { start: 'Started', stop: 'Stopped', restart: 'Restarted', pause: 'Paused', resume: 'Resumed' };
const HELP: Record<ActionName, string> = {
  start: 'start a stopped instance',
  stop: 'stop an instance (ACPI shutdown, then hard stop after --timeout; --force stops at once)',
  restart: 'restart an instance',
  pause: 'pause (freeze) a running instance',
  resume: 'resume a paused instance',
};

interface LaunchOptions extends WaitOptions {
  arch?: GuestArch;
  cpus?: number;
  memory?: string;
  maxCpus?: number;
  maxMemory?: string;
  disk?: string;
  plan?: string;
  sshKey?: string[];
  network?: string[];
  securityGroup?: string[];
  container?: boolean;
  pids?: number;
  cpuWeight?: number;
  swap?: string;
  diskReadBps?: string;
  diskWriteBps?: string;
  diskReadIops?: number;
  diskWriteIops?: number;
  app?: boolean;
  iso?: boolean;
  entrypoint?: string;
  env?: string[];
  workdir?: string;
  user?: string;
  restart?: 'never' | 'on-failure' | 'always';
  pool?: string;
  label?: string[];
  userData?: string;
  vendorData?: string;
  firmware?: 'bios' | 'uefi';
  secureBoot?: boolean;
  tpm?: boolean;
  start: boolean;
}

/** The text of a --user-data/--vendor-data file; a usage error when it cannot be read or is over 64 KiB. */
function readDataFile(flag: string, file: string): string {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new CliError(`${flag} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, { exitCode: EXIT.usage });
  }
  if (buf.length > 64 * 1024) throw new CliError(`${flag} ${file} is ${buf.length} bytes; the limit is 65536 bytes (64 KiB)`, { exitCode: EXIT.usage });
  return buf.toString('utf8');
}

/** Build the POST /instances body from `launch` arguments. */
export function launchBody(image: string, name: string, o: Omit<LaunchOptions, 'wait' | 'quiet'>, home?: string, cmd: string[] = []): InstanceCreate {
  const body: InstanceCreate = { name, image };
  if (o.app) {
    body.app = {};
    if (o.entrypoint !== undefined) body.app.entrypoint = o.entrypoint === '' ? [] : [o.entrypoint];
    if (cmd.length > 0) body.app.cmd = cmd;
    if (o.env?.length) body.app.env = o.env;
    if (o.workdir) body.app.workingDir = o.workdir;
    if (o.user) body.app.user = o.user;
    if (o.restart) body.app.restart = o.restart;
  } else if (cmd.length > 0 || o.entrypoint !== undefined || o.env || o.workdir || o.user || o.restart) {
    throw new CliError('--entrypoint, --env, --workdir, --user, --restart and a command are for application containers (--app)', { exitCode: EXIT.usage });
  }
  if (o.cpus !== undefined) body.cpus = o.cpus;
  if (o.memory !== undefined) body.memory = o.memory;
  if (o.maxCpus !== undefined) body.maxCpus = o.maxCpus;
  if (o.maxMemory !== undefined) body.maxMemory = o.maxMemory;
  if (o.disk !== undefined) body.disk = o.disk;
  if (o.iso) body.iso = true;
  if (o.plan !== undefined) body.plan = o.plan;
  if (o.pool !== undefined) body.pool = o.pool;
  if (o.label?.length) body.labels = parseLabels(o.label);
  if (o.app && o.sshKey?.length) throw new CliError('--ssh-key is for VMs and system containers; an application container (--app) takes no keys', { exitCode: EXIT.usage });
  const keys = o.app ? [] : resolveSshKeys(o.sshKey, home);
  if (keys.length > 0) body.sshKeys = keys;
  if (o.userData !== undefined) body.userData = readDataFile('--user-data', o.userData);
  if (o.vendorData !== undefined) body.vendorData = readDataFile('--vendor-data', o.vendorData);
  if (!o.start) body.start = false;
  if (o.container) body.type = 'container';
  if (o.firmware !== undefined) body.firmware = o.firmware;
  if (o.secureBoot) body.secureBoot = true;
  if (o.tpm) body.tpm = true;
  if (o.arch !== undefined) body.arch = o.arch;
  if (o.pids !== undefined) body.pids = o.pids;
  if (o.cpuWeight !== undefined) body.cpuWeight = o.cpuWeight;
  if (o.swap !== undefined) body.swap = o.swap;
  if (o.diskReadBps !== undefined) body.diskReadBps = o.diskReadBps;
  if (o.diskWriteBps !== undefined) body.diskWriteBps = o.diskWriteBps;
  if (o.diskReadIops !== undefined) body.diskReadIops = o.diskReadIops;
  if (o.diskWriteIops !== undefined) body.diskWriteIops = o.diskWriteIops;
  if (o.network?.length || o.securityGroup?.length) {
    const groups = o.securityGroup?.length ? { securityGroups: o.securityGroup } : {};
    body.nics = (o.network?.length ? o.network : ['default']).map((spec) => {
      const [network, address] = spec.split('=') as [string, string | undefined];
      return { network, ...(address ? { address } : {}), ...groups };
    });
  }
  return body;
}

/** Register the instance commands on the program. */
export function registerInstanceCommands(program: Command): void {
  withWaitOptions(
    program
      .command('launch')
      .description('create an instance from an image and start it')
      .argument('<image>', 'image name (see: nimbo image list); a missing built-in one (tiny, debian-12) is built first; REMOTE:IMAGE is fetched from an image remote (cached)', (v: string) => parseImageArg(v))
      .argument('<name>', 'instance name (DNS label)', (v: string) => parseName(v, 'instance name'))
      .argument('[command...]', 'app: the command (replaces the image cmd), after --')
      .option('--plan <name>', 'a plan (nimbo plan list): its vCPUs, memory, disk and limits', (v: string) => parseName(v, 'plan name'))
      .option('--cpus <n>', 'virtual CPUs', intInRange('--cpus', 1, 64))
      .option('--memory <size>', 'memory, e.g. 512MiB or 2GiB', (v: string) => parseSize(v, 'memory'))
      .option('--max-cpus <n>', 'VMs: most vCPUs a live resize may add up to (default: --cpus, no room)', intInRange('--max-cpus', 1, 64))
      .option('--max-memory <size>', 'VMs: most memory a live resize may add up to, e.g. 4GiB (default: --memory, no room)', (v: string) => parseSize(v, 'max memory'))
      .option('--disk <size>', 'root disk size, e.g. 10GiB (containers: a quota on what the container writes, refused on pools without quotas; no limit when omitted)', (v: string) => parseSize(v, 'disk'))
      .option('--pool <pool>', 'storage pool of the root volume (default: default); containers need one with filesystem volumes')
      .option('--label <key=value>', 'a label, for nimbo list --filter label.KEY=VALUE (repeatable)', collect)
      .option('--ssh-key <file>', 'public key file to inject (repeatable; default ~/.ssh/id_ed25519.pub or id_rsa.pub)', collect)
      .option('--user-data <file>', 'cloud-init user-data: a #cloud-config file or a #! script (at most 64 KiB); see "Metadata and user-data" in the user guide')
      .option('--vendor-data <file>', 'cloud-init vendor-data file (at most 64 KiB)')
      .option('--network <net[=ip]>', 'a NIC on this network, optionally with a fixed address (repeatable, in order; default: default)', collect)
      .option('--security-group <group>', 'security group of its NICs (repeatable; default: default)', collect)
      .addOption(new Option('--firmware <type>', 'VMs: bios (SeaBIOS, default) or uefi (OVMF with its own NVRAM)').choices(['bios', 'uefi']))
      .option('--secure-boot', 'VMs with --firmware uefi: Secure Boot on (Microsoft keys enrolled, enforced)')
      .option('--tpm', 'VMs: an emulated TPM 2.0 (swtpm), its state kept with the VM')
      .addOption(new Option('--arch <arch>', "VMs: guest CPU architecture (default: the image's); another than the host's is emulated (TCG)").choices([...GUEST_ARCHES]))
      .option('--container', "a system container (the image's own init under runc) instead of a VM")
      .option('--pids <n>', 'containers: most processes (default 2048)', intInRange('--pids', 16, 1000000))
      .option('--cpu-weight <n>', 'containers: relative CPU weight 1-10000 (default 100)', intInRange('--cpu-weight', 1, 10000))
      .option('--swap <size>', 'containers: swap on top of --memory (needs swap accounting on the host)', (v: string) => parseSize(v, 'swap'))
      .option('--disk-read-bps <size>', "containers: read bytes per second from the root volume's disk, e.g. 50MiB", (v: string) => parseSize(v, 'disk read rate'))
      .option('--disk-write-bps <size>', "containers: write bytes per second to the root volume's disk, e.g. 20MiB", (v: string) => parseSize(v, 'disk write rate'))
      .option('--disk-read-iops <n>', "containers: read operations per second on the root volume's disk", intInRange('--disk-read-iops', 1, 10000000))
      .option('--disk-write-iops <n>', "containers: write operations per second on the root volume's disk", intInRange('--disk-write-iops', 1, 10000000))
      .option('--iso', 'the image is an ISO (type iso): install from it onto an empty disk (--disk, default 8GiB), the CD booted first; drive the installer on the VGA console, then: nimbo media eject')
      .option('--app', 'an application container from an OCI image (see: nimbo image import); a command after -- replaces its cmd')
      .option('--entrypoint <path>', "app: replace the image's entrypoint ('' clears it)")
      .option('--env <KEY=VALUE>', 'app: add or replace an environment variable (repeatable)', collect)
      .option('--workdir <dir>', 'app: working directory')
      .option('--user <user[:group]>', 'app: user to run as (name or uid)')
      .addOption(new Option('--restart <policy>', 'app: start it again when it exits by itself (never, on-failure: exit code not 0, always)').choices(['never', 'on-failure', 'always']))
      .option('--no-start', 'create the instance but do not start it'),
  ).action(async (image: string, name: string, command: string[], o: LaunchOptions, cmd: Command) => {
    const client = clientFor(cmd);
    const op = await client.createInstance(launchBody(image, name, o, undefined, command));
    await finishOperation(op, client, o, async () => {
      const inst = await client.getInstance(name).catch(() => undefined);
      if (!inst) return `Launched ${name}`;
      return `${o.start ? 'Launched' : 'Created'} ${name} (${inst.state}${inst.addresses.length ? `, ${formatList(inst.addresses)}` : ''})`;
    });
  });

  const list = program
    .command('list')
    .alias('ls')
    .description('list instances')
    .addOption(outputOption());
  withListOptions(list, instanceColumns(), Object.keys(instanceFilterKeys), true).action(async (o: ListOptions, cmd: Command) => {
    const items = await clientFor(cmd).listInstances();
    out(renderFilteredList(items, archColumnsFor(instanceColumns(), items, o.columns), instanceFilterKeys, o, true));
  });

  program
    .command('info')
    .description('show one instance')
    .argument('<name>', 'instance name')
    .addOption(outputOption())
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const client = clientFor(cmd);
      const [inst, sched] = await Promise.all([client.getInstance(name), fetchSchedule(client, name)]);
      out(renderDetail(sched ? { ...inst, snapshotSchedule: sched } : inst, [...instanceFields(inst), ['Snapshot schedule', scheduleSummary(sched)]], formatOf(cmd)));
    });

  for (const action of ACTIONS) {
    const cmd = program.command(action).description(HELP[action]).argument('<names...>', 'instance names');
    // Only stop and restart have a graceful phase; the others would ignore --force/--timeout.
    if (action === 'stop' || action === 'restart') {
      cmd
        .option('--force', 'do it at once, without a graceful attempt')
        .option('--timeout <s>', 'seconds before a graceful action turns into a hard one', intInRange('--timeout', 1, 3600));
    }
    withWaitOptions(cmd, MANY_NAMES_OUTPUT).action(async (names: string[], o: WaitOptions & InstanceAction, c: Command) => {
      const client = clientFor(c);
      // A forced stop kills at once, so a grace period given with it would be silently dropped.
      if (o.force && o.timeout !== undefined) throw new CliError('--force stops at once; --timeout is the grace period of a stop without it', { exitCode: EXIT.usage });
      const body: InstanceAction = {};
      if (o.force) body.force = true;
      if (o.timeout !== undefined) body.timeout = o.timeout;
      await eachName(
        names,
        async (name) => finishOperation(await client.instanceAction(name, action, body), client, o, () => `${PAST[action]} ${name}`, false),
        undefined,
        o.output,
      );
    });
  }

  const file = program.command('file').description('copy files into and out of a running container');
  file
    .command('push')
    .description('copy a local file (or - for stdin) to NAME:/path in a container')
    .argument('<local>', 'local file, or - for stdin')
    .argument('<target>', 'NAME:/absolute/path')
    .option('--mode <octal>', 'file mode in the container', '0644')
    .action(async (local: string, target: string, o: { mode: string }, cmd: Command) => {
      const { name, path } = splitTarget(target);
      const data = local === '-' ? Buffer.from(await readStdin()) : readFileSync(local);
      await clientFor(cmd).bytes('PUT', `/instances/${encodeURIComponent(name)}/files`, { raw: data, query: { path, mode: o.mode } });
      out(`Pushed ${data.length} bytes to ${name}:${path}`);
    });
  file
    .command('pull')
    .description('copy NAME:/path (a regular file) from a container to a local file (or - for stdout), streamed')
    .argument('<source>', 'NAME:/absolute/path')
    .argument('<local>', 'local file, or - for stdout')
    .action(async (source: string, local: string, _o: unknown, cmd: Command) => {
      const { name, path } = splitTarget(source);
      await pullFile(clientFor(cmd), name, path, local);
    });

  program
    .command('logs')
    .description("a container's output (an application's stdout/stderr, a system container's init) or a VM's serial log")
    .argument('<name>', 'instance name')
    .option('-f, --follow', 'keep printing new output until interrupted')
    .option('--bytes <n>', 'how much of the end to print first', intInRange('--bytes', 1, 16 * 1024 * 1024), 65536)
    .action(async (name: string, o: { follow?: boolean; bytes: number }, cmd: Command) => {
      const client = clientFor(cmd);
      const read = () => client.consoleLog(name, o.bytes);
      let last = await read();
      process.stdout.write(last);
      while (o.follow) {
        await new Promise((r) => setTimeout(r, 1000));
        const now = await read();
        process.stdout.write(newPart(last, now));
        last = now;
      }
    });

  program
    .command('exec')
    .description('run a command in a container, or in a VM with a guest agent: nimbo exec [-t] NAME -- CMD [ARGS...] (stdin is passed on; the exit code too; -t: containers only)')
    .argument('<name>', 'container or VM name')
    .argument('<command...>', 'the command and its arguments (after --)')
    .option('--timeout <s>', 'seconds before the command is killed', intInRange('--timeout', 1, 3600))
    .option('-t, --tty', 'run it on a pseudo-terminal, interactively (like a console; Ctrl-] detaches)')
    .action(async (name: string, command: string[], o: { timeout?: number; tty?: boolean }, cmd: Command) => {
      if (o.tty) {
        // The interactive exec has no time limit on the daemon side; refuse rather than ignore the flag.
        if (o.timeout !== undefined) throw new CliError('--timeout is for a piped exec; an interactive one (-t) runs until it ends or you detach', { exitCode: EXIT.usage });
        const sock = await clientFor(cmd).openExec(name, command, { rows: process.stdout.rows, cols: process.stdout.columns });
        const reason = await runConsole(sock, { input: process.stdin, output: process.stdout, notices: process.stderr, interactive: process.stdin.isTTY === true, name, eofByte: 0x04 });
        const m = /^exit (\d+)$/.exec(reason ?? '');
        process.exitCode = m ? Number(m[1]) : 0;
        return;
      }
      const input = process.stdin.isTTY ? undefined : await readStdin();
      // Streamed: output of any size arrives as it is made, at the pace this side reads it.
      const body = { command, ...(input !== undefined && input !== '' ? { input } : {}), ...(o.timeout ? { timeout: o.timeout } : {}) };
      process.exitCode = await streamExec(clientFor(cmd), name, body, process.stdout, process.stderr);
    });

  withWaitOptions(
    program
      .command('delete')
      .alias('rm')
      .description('delete instances and their disks')
      .argument('<names...>', 'instance names')
      .option('--force', 'stop it first if it is running'),
    MANY_NAMES_OUTPUT,
  ).action(async (names: string[], o: WaitOptions & { force?: boolean }, cmd: Command) => {
    const client = clientFor(cmd);
    const del = async (name: string) => {
      const op = await client.deleteInstance(name, o.force === true).catch((e: unknown) => {
        throw o.force === true ? e : deleteRefusal(e, name);
      });
      return finishOperation(op, client, o, () => `Deleted ${name}`, false);
    };
    await eachName(names, del, undefined, o.output);
  });
  attachExamples(program);
}

/** All of stdin as text. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * What `now` (a later tail of the same log, which may have lost its start) adds to `before`: `now`
 * after its longest prefix that is a suffix of `before`, found through the last bytes of `before`.
 */
export function newPart(before: string, now: string): string {
  if (now.startsWith(before)) return now.slice(before.length);
  const probe = before.slice(-64);
  if (probe === '') return now;
  for (let at = now.lastIndexOf(probe); at >= 0; at = at === 0 ? -1 : now.lastIndexOf(probe, at - 1)) {
    const overlap = now.slice(0, at + probe.length);
    if (before.endsWith(overlap)) return now.slice(overlap.length);
  }
  return now;
}

/** "NAME:/path" → its parts. */
export function splitTarget(text: string): { name: string; path: string } {
  const m = /^([a-z][a-z0-9-]*):(\/.*)$/.exec(text);
  if (!m) throw new CliError(`"${text}" is not NAME:/absolute/path`);
  return { name: m[1]!, path: m[2]! };
}
