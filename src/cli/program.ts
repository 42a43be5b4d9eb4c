/** The `nimbo` commander program: every command, wired to the API client. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerConsoleCommand } from './commands/console.js';
import { registerHostCommands } from './commands/host.js';
import { registerCompletionCommand } from './commands/completion.js';
import { registerSnapshotCommands } from './commands/snapshots.js';
import { registerCopyCommand } from './commands/copy.js';
import { registerImageCommands } from './commands/images.js';
import { registerInstanceCommands } from './commands/instances.js';
import { registerOperationCommands } from './commands/operations.js';
import { registerStorageCommands } from './commands/storage.js';
import { registerNetworkCommands } from './commands/networks.js';
import { registerFirewallCommands } from './commands/firewall.js';
import { registerVersionCommand } from './commands/version.js';
import { registerAdminCommands } from './commands/admin.js';
import { EXIT, EXIT_HELP, oneLine } from './errors.js';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Build the `nimbo` program without the lifecycle commands (main.ts adds those). */
export function buildProgram(): Command {
  const program = new Command('nimbo');
  // Settings made before .command() are inherited by every subcommand.
  program
    .description('nimbo: the command-line client of nimbod (talks only to its REST API)')
    .version(version(), '-V, --version')
    .option('--url <url>', 'nimbod URL (default: $NIMBO_URL, else daemon.json in $NIMBO_STATE_DIR or /var/lib/nimbo)')
    .option('--token <token>', 'API token (default: $NIMBO_TOKEN, else admin.token in the state dir)')
    .option('--tls-fingerprint <sha256>', "trust an https daemon whose certificate has this SHA-256 fingerprint (default: $NIMBO_TLS_FINGERPRINT, else daemon.json's for its own URL)")
    .option('--tls-ca <file>', 'trust an https daemon whose certificate this PEM CA file vouches for (default: $NIMBO_TLS_CA; else the system CAs)')
    .configureOutput({ outputError: (str, write) => write(`nimbo: ${oneLine(str)}\n`) })
    .showSuggestionAfterError(true)
    // Inherited by every subcommand: a stray extra argument is a mistake, not something to ignore.
    .allowExcessArguments(false)
    // Usage errors (unknown option, missing or extra argument, bad value) exit with EXIT.usage.
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT.usage))
    .addHelpText('after', `\nEnvironment: NIMBO_URL, NIMBO_TOKEN, NIMBO_TLS_FINGERPRINT, NIMBO_TLS_CA, NIMBO_STATE_DIR, NIMBO_DEBUG=1 (stack traces).\n${EXIT_HELP}`);
  registerInstanceCommands(program);
  registerConsoleCommand(program);
  registerImageCommands(program);
  registerStorageCommands(program);
  registerNetworkCommands(program);
  registerFirewallCommands(program);
  registerSnapshotCommands(program);
  registerCopyCommand(program);
  registerOperationCommands(program);
  registerHostCommands(program);
  registerCompletionCommand(program);
  registerVersionCommand(program, version());
  registerAdminCommands(program);
  return program;
}
