/** `nimbo admin uninstall`: take everything one nimbod put on this host off it again (and, with --data, its state dir). */
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULTS } from '../../core/config.js';
import { CliError, EXIT } from '../errors.js';

interface UninstallFlags {
  stateDir: string;
  prefix?: string;
  data?: boolean;
  yes?: boolean;
}

/** Register `nimbo admin` and its subcommands. */
export function registerAdminCommands(program: Command): void {
  const admin = program.command('admin').description('host administration (run as root on the daemon host)');
  admin
    .command('uninstall')
    .description('stop every instance, then remove every host object of the daemon (bridges, taps, veths, nft tables, dnsmasq, QEMU, mounts, cgroups); with --data also its state dir')
    .option('--state-dir <dir>', 'state directory of the daemon', process.env.NIMBO_STATE_DIR ?? DEFAULTS.stateDir)
    .option('--prefix <prefix>', "prefix of the daemon's host objects (default: the one STATE_DIR/daemon.json records; required without it)")
    .option('--data', 'also delete the state directory: every image, instance disk and record in it')
    .option('-y, --yes', 'do not ask for confirmation (needed when stdin is not a terminal)')
    .addHelpText(
      'after',
      '\nExamples:\n  sudo nimbo admin uninstall                 # asks, then removes host objects; the state dir stays\n' +
        '  sudo nimbo admin uninstall --data --yes    # no questions; the state dir goes too\n' +
        '\nIt works with the daemon running (instances are stopped through the API first), stopped or killed, and with a\n' +
        'broken database; running it twice is harmless. Only objects named with the prefix, or living in the state dir, are touched.',
    )
    .action((o: UninstallFlags) => runUninstall(o));
}

/**
 * The prefix to sweep: --prefix, else the one the daemon recorded in daemon.json. Never a guess: another
 * daemon on this host may use the default prefix, and a state dir already deleted says nothing.
 */
function prefixOf(o: UninstallFlags): string {
  if (o.prefix !== undefined) return o.prefix;
  try {
    const j = JSON.parse(readFileSync(join(o.stateDir, 'daemon.json'), 'utf8')) as { prefix?: unknown };
    if (typeof j.prefix === 'string') return j.prefix;
  } catch {
    /* no readable daemon.json */
  }
  throw new CliError(`${join(o.stateDir, 'daemon.json')} does not say which prefix its daemon used: pass --prefix (the daemon's default is ${DEFAULTS.prefix})`, { exitCode: EXIT.usage });
}

async function runUninstall(o: UninstallFlags): Promise<void> {
  if (process.getuid?.() !== 0) throw new CliError('nimbo admin uninstall must run as root: it removes bridges, nft tables, mounts and cgroups (try sudo)', { exitCode: EXIT.auth });
  const { checkPurgePrefix, checkStateDirForRemoval } = await import('../../core/purge-plan.js');
  const prefix = prefixOf(o);
  try {
    checkPurgePrefix(prefix);
    if (o.data) checkStateDirForRemoval(o.stateDir, process.env.HOME, (f) => existsSync(join(o.stateDir, f)));
  } catch (e) {
    throw new CliError((e as Error).message, { exitCode: EXIT.usage });
  }
  const what =
    `This stops every instance of the nimbod on ${o.stateDir}, then removes every host object of prefix "${prefix}": ` +
    `bridges, taps, veths, VXLAN ports, network namespaces, nft tables inet/bridge ${prefix}, dnsmasq, QEMU and container processes, mounts, loop devices and cgroups` +
    (o.data ? `, and deletes ${o.stateDir} with every image, disk and record in it.` : `. ${o.stateDir} stays (add --data to delete it).`);
  if (!o.yes) await confirm(what);
  await stopInstances(o.stateDir);
  const { purgeHost, removeStateDir } = await import('../../core/host-purge.js');
  const { RealExec } = await import('../../host/exec.js');
  const exec = new RealExec();
  const report = await purgeHost({ exec, prefix, stateDir: o.stateDir, say: (l) => process.stdout.write(`${l}\n`) });
  if (report.failed.length) {
    throw new CliError(`uninstall left ${report.failed.length} object(s) behind (see above); fix the cause and run it again`, { exitCode: EXIT.failure });
  }
  if (o.data && existsSync(o.stateDir)) {
    await removeStateDir(exec, o.stateDir);
    process.stdout.write(`removed state dir ${o.stateDir}\n`);
  }
  process.stdout.write(report.removed.length || o.data ? `nimbo (prefix ${prefix}) is uninstalled from this host\n` : `nothing of prefix ${prefix} was left on this host\n`);
}

/** Ask on the terminal; without one, refuse (a script must say --yes). */
async function confirm(what: string): Promise<void> {
  if (!process.stdin.isTTY) throw new CliError('uninstall asks before it removes anything, and stdin is not a terminal: pass --yes to go on without asking', { exitCode: EXIT.usage });
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${what}\nType "yes" to go on: `);
    if (answer.trim().toLowerCase() !== 'yes') throw new CliError('uninstall cancelled; nothing was changed', { exitCode: EXIT.failure });
  } finally {
    rl.close();
  }
}

/**
 * Stop every instance through the daemon when it answers, so its own stop paths run (QEMU powered off,
 * containers deleted, records saying "stopped"); the sweep removes whatever is left either way.
 */
async function stopInstances(stateDir: string): Promise<void> {
  const { resolveEndpoint } = await import('../endpoint.js');
  const { ApiClient } = await import('../client.js');
  const { followOperation } = await import('../progress.js');
  if (!existsSync(join(stateDir, 'daemon.json'))) return;
  const ep = resolveEndpoint({ remote: 'local' }, { NIMBO_STATE_DIR: stateDir });
  const client = new ApiClient(ep.url, ep.token, { tls: ep.tls, timeoutMs: 10_000 });
  let instances: { name: string; state: string }[];
  try {
    instances = await client.listInstances();
  } catch (e) {
    process.stdout.write(`cannot list instances through nimbod (${(e as Error).message}); cleaning up without it\n`);
    return;
  }
  for (const i of instances.filter((x) => x.state !== 'stopped')) {
    try {
      await followOperation(client, await client.instanceAction(i.name, 'stop', { force: true }), { quiet: true, timeoutS: 120, retryUnreachableMs: 5000, detachOnInterrupt: false });
      process.stdout.write(`stopped instance ${i.name}\n`);
    } catch (e) {
      process.stdout.write(`could not stop instance ${i.name} through nimbod (${(e as Error).message}); the sweep ends it\n`);
    }
  }
}
