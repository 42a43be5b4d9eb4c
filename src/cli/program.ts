/** The `nimbo` commander program: every command, wired to the API client. */
import type { Command } from 'commander';
import { registerConsoleCommand } from './commands/console.js';
import { registerHostCommands } from './commands/host.js';
import { registerCompletionCommand } from './commands/completion.js';
import { registerSnapshotCommands } from './commands/snapshots.js';
import { registerBackupCommands } from './commands/backup.js';
import { registerCopyCommand } from './commands/copy.js';
import { registerUpdateCommands } from './commands/update.js';
import { registerVpsActionCommands } from './commands/vps-actions.js';
import { registerImageCommands } from './commands/images.js';
import { registerMediaCommands } from './commands/media.js';
import { registerInstanceCommands } from './commands/instances.js';
import { registerOperationCommands } from './commands/operations.js';
import { registerStorageCommands } from './commands/storage.js';
import { registerNetworkCommands } from './commands/networks.js';
import { registerFirewallCommands } from './commands/firewall.js';
import { registerVersionCommand } from './commands/version.js';
import { baseProgram, cliVersion } from './program-base.js';
import { registerAdminCommands } from './commands/admin.js';
import { registerRemoteCommands } from './commands/remotes.js';
import { registerPlanCommands } from './commands/plans.js';
import { registerAuthCommands } from './commands/auth.js';
import { registerTokenCommands } from './commands/tokens.js';
import { registerUserCommands } from './commands/users.js';
import { registerProjectCommands } from './commands/projects.js';
import { registerTrailCommands } from './commands/trail.js';

/**
 * Build the `nimbo` program with every command but the lifecycle ones (main.ts adds those).
 * A run of one command loads only its module instead (command-table.ts); this full tree is for
 * help, completion, unknown commands and the docs.
 */
export function buildProgram(): Command {
  const version = cliVersion();
  const program = baseProgram(version);
  registerInstanceCommands(program);
  registerConsoleCommand(program);
  registerImageCommands(program);
  registerMediaCommands(program);
  registerStorageCommands(program);
  registerNetworkCommands(program);
  registerFirewallCommands(program);
  registerSnapshotCommands(program);
  registerBackupCommands(program);
  registerCopyCommand(program);
  registerUpdateCommands(program);
  registerVpsActionCommands(program);
  registerOperationCommands(program);
  registerHostCommands(program);
  registerCompletionCommand(program);
  registerVersionCommand(program, version);
  registerAdminCommands(program);
  registerRemoteCommands(program);
  registerPlanCommands(program);
  registerAuthCommands(program);
  registerTokenCommands(program);
  registerUserCommands(program);
  registerProjectCommands(program);
  registerTrailCommands(program);
  return program;
}
