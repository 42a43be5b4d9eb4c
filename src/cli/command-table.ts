/**
 * Which module registers which top-level command, so that `nimbo list` loads the instance commands only and
 * not all of them (CLI startup time). Any other word (help, completion, a typo) gets the full program.
 * command-table.test.ts checks this table against the full program.
 */
import type { Command } from 'commander';
import { baseProgram, cliVersion, VALUE_OPTIONS } from './program-base.js';

/** A command module: the top-level command names and aliases it registers, and how to register it. */
export interface CommandModule {
  names: readonly string[];
  register(program: Command): Promise<void>;
}

/** The modules a single command can be served from (completion is absent: it needs the whole tree). */
export const COMMAND_MODULES: readonly CommandModule[] = [
  {
    names: ['launch', 'list', 'ls', 'info', 'start', 'stop', 'restart', 'pause', 'resume', 'file', 'logs', 'exec', 'delete', 'rm'],
    register: async (p) => (await import('./commands/instances.js')).registerInstanceCommands(p),
  },
  { names: ['console'], register: async (p) => (await import('./commands/console.js')).registerConsoleCommand(p) },
  { names: ['media'], register: async (p) => (await import('./commands/media.js')).registerMediaCommands(p) },
  { names: ['image'], register: async (p) => (await import('./commands/images.js')).registerImageCommands(p) },
  { names: ['storage'], register: async (p) => (await import('./commands/storage.js')).registerStorageCommands(p) },
  { names: ['network'], register: async (p) => (await import('./commands/networks.js')).registerNetworkCommands(p) },
  { names: ['firewall'], register: async (p) => (await import('./commands/firewall.js')).registerFirewallCommands(p) },
  { names: ['snapshot', 'snap'], register: async (p) => (await import('./commands/snapshots.js')).registerSnapshotCommands(p) },
  { names: ['rename', 'update'], register: async (p) => (await import('./commands/update.js')).registerUpdateCommands(p) },
  {
    names: ['reboot', 'shutdown', 'poweroff', 'powercycle', 'rebuild', 'rescue', 'unrescue', 'resize', 'reset-password', 'set-keys'],
    register: async (p) => (await import('./commands/vps-actions.js')).registerVpsActionCommands(p),
  },
  { names: ['copy', 'cp'], register: async (p) => (await import('./commands/copy.js')).registerCopyCommand(p) },
  { names: ['operation', 'op'], register: async (p) => (await import('./commands/operations.js')).registerOperationCommands(p) },
  { names: ['host', 'doctor', 'events'], register: async (p) => (await import('./commands/host.js')).registerHostCommands(p) },
  { names: ['version'], register: async (p) => (await import('./commands/version.js')).registerVersionCommand(p, cliVersion()) },
  { names: ['plan', 'quota'], register: async (p) => (await import('./commands/plans.js')).registerPlanCommands(p) },
  { names: ['login', 'logout', 'whoami'], register: async (p) => (await import('./commands/auth.js')).registerAuthCommands(p) },
  { names: ['token'], register: async (p) => (await import('./commands/tokens.js')).registerTokenCommands(p) },
  { names: ['user'], register: async (p) => (await import('./commands/users.js')).registerUserCommands(p) },
  { names: ['project'], register: async (p) => (await import('./commands/projects.js')).registerProjectCommands(p) },
  { names: ['audit', 'usage', 'webhook'], register: async (p) => (await import('./commands/trail.js')).registerTrailCommands(p) },
  { names: ['backup'], register: async (p) => (await import('./commands/backup.js')).registerBackupCommands(p) },
  { names: ['admin'], register: async (p) => (await import('./commands/admin.js')).registerAdminCommands(p) },
  { names: ['remote'], register: async (p) => (await import('./commands/remotes.js')).registerRemoteCommands(p) },
  { names: ['daemon', 'up', 'down'], register: async (p) => (await import('./lifecycle.js')).registerLifecycle(p) },
];

/** The command word of an argv (after node and the script), skipping global options and their values. */
export function commandWord(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return undefined;
    if (VALUE_OPTIONS.has(a)) i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

/** The full program: every command, lifecycle ones included. */
export async function fullProgram(): Promise<Command> {
  const program = (await import('./program.js')).buildProgram();
  (await import('./lifecycle.js')).registerLifecycle(program);
  return program;
}

/** The program for one run: only the module of its command when the table knows it, else everything. */
export async function programFor(args: readonly string[]): Promise<Command> {
  const word = commandWord(args);
  const mod = word === undefined ? undefined : COMMAND_MODULES.find((m) => m.names.includes(word));
  if (!mod) return fullProgram();
  const program = baseProgram();
  await mod.register(program);
  return program;
}
