/** `nimbo host info`, `nimbo doctor` and `nimbo events`. */
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { outputOption, renderData, renderDetail, renderTable } from '../output.js';
import { checkColumns, hostFields } from '../views.js';
import { registerEventsCommand } from './events.js';
import { clientFor, formatOf, out } from './common.js';

/** Register the host commands on the program. */
export function registerHostCommands(program: Command): void {
  const host = program.command('host').description('the host nimbod runs on');
  host
    .command('info')
    .description('show facts about the host and the daemon')
    .addOption(outputOption())
    .action(async (_o: unknown, cmd: Command) => {
      const info = await clientFor(cmd).host();
      out(renderDetail(info, hostFields(info), formatOf(cmd)));
    });

  program
    .command('doctor')
    .description("check the host's readiness (exits non-zero if a check fails)")
    .addOption(outputOption())
    .action(async (_o: unknown, cmd: Command) => {
      const info = await clientFor(cmd).host();
      const format = formatOf(cmd);
      if (format === 'table') {
        const cols = checkColumns();
        out(`Accelerator: ${info.accelerator} (${info.acceleratorReason})\n`);
        out(renderTable(cols.map((c) => c.header), info.checks.map((c) => cols.map((col) => col.value(c)))));
      } else {
        out(renderData({ accelerator: info.accelerator, acceleratorReason: info.acceleratorReason, checks: info.checks }, format));
      }
      const failed = info.checks.filter((c) => !c.ok);
      if (failed.length > 0) {
        throw new CliError(`${failed.length} host check${failed.length > 1 ? 's' : ''} failed: ${failed.map((c) => c.name).join(', ')}`);
      }
    });

  registerEventsCommand(program);
}
