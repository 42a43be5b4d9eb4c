/** `nimbo console NAME [--log]`: attach to an instance's serial console, or print its recent output. */
import type { Command } from 'commander';
import { runConsole } from '../console.js';
import { intInRange } from '../validate.js';
import { CliError, EXIT } from '../errors.js';
import { clientFor } from './common.js';
import { attachExamples } from '../examples.js';

/** Register the console command on the program. */
export function registerConsoleCommand(program: Command): void {
  program
    .command('console')
    .description('attach to the serial console of an instance (detach with Ctrl-])')
    .argument('<name>', 'instance name')
    .option('--log', 'print the recent console output and exit')
    .option('--bytes <n>', 'with --log: how many bytes of recent output', intInRange('--bytes', 1, 64 * 1024 * 1024))
    .action(async (name: string, o: { log?: boolean; bytes?: number }, cmd: Command) => {
      if (o.bytes !== undefined && !o.log) throw new CliError('--bytes goes with --log (the live console has no history to size)', { exitCode: EXIT.usage });
      const client = clientFor(cmd);
      if (o.log) {
        process.stdout.write(await client.consoleLog(name, o.bytes));
        return;
      }
      const ws = await client.openConsole(name);
      const interactive = process.stdin.isTTY === true;
      await runConsole(ws, {
        input: process.stdin,
        output: process.stdout,
        notices: process.stderr,
        interactive,
        name,
      });
    });
  attachExamples(program);
}
