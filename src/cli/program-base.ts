/** The bare `nimbo` program: its name, global options, help epilogue and usage-error handling, without commands. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { EXIT, EXIT_HELP, oneLine } from './errors.js';

/** The client's version (package.json's; 0.0.0 when it cannot be read). */
export function cliVersion(): string {
  try {
    // The same path from dist/src/cli/main.js and from the bundle beside it (dist/src/cli/nimbo-body.cjs).
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** A `nimbo` program with the global options and no commands yet. */
export function baseProgram(version = cliVersion()): Command {
  const program = new Command('nimbo');
  // Settings made before .command() are inherited by every subcommand.
  return program
    .description('nimbo: the command-line client of nimbod (talks only to its REST API)')
    .version(version, '-V, --version')
    .option('--url <url>', 'nimbod URL (default: $NIMBO_URL, else the current remote, else daemon.json in $NIMBO_STATE_DIR or /var/lib/nimbo)')
    .option('--remote <name>', 'talk to this remote (see nimbo remote list) instead of the current one; local is the daemon of this host')
    .option('--token-file <file>', 'read the API token from this file (default: $NIMBO_TOKEN, else the remote\'s credentials from nimbo login, else admin.token in the state dir)')
    .option('--tls-fingerprint <sha256>', "trust an https daemon whose certificate has this SHA-256 fingerprint (default: $NIMBO_TLS_FINGERPRINT, else daemon.json's for its own URL)")
    .option('--tls-ca <file>', 'trust an https daemon whose certificate this PEM CA file vouches for (default: $NIMBO_TLS_CA; else the system CAs)')
    .option('--project <name>', "the project every request works in (default: $NIMBO_PROJECT, else the token's or the user's own)")
    .configureOutput({ outputError: (str, write) => write(`nimbo: ${oneLine(str)}\n`) })
    .showSuggestionAfterError(true)
    // Inherited by every subcommand: a stray extra argument is a mistake, not something to ignore.
    .allowExcessArguments(false)
    // Usage errors (unknown option, missing or extra argument, bad value) exit with EXIT.usage.
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT.usage))
    .addHelpText('after', `\nEnvironment: NIMBO_URL, NIMBO_TOKEN, NIMBO_TLS_FINGERPRINT, NIMBO_TLS_CA, NIMBO_STATE_DIR, NIMBO_CONFIG_DIR (remotes, credentials), NIMBO_DEBUG=1 (stack traces).\n${EXIT_HELP}`);
}

/** Global options that take a value (skipped when looking for the command word). */
export const VALUE_OPTIONS = new Set(['--url', '--remote', '--token-file', '--tls-fingerprint', '--tls-ca', '--project']);
