/** `nimbo host info`, `nimbo doctor` and `nimbo events`. */
import type { Command } from 'commander';
import type { Event } from '../../shared/api-types.js';
import { CliError } from '../errors.js';
import { outputOption, renderData, renderDetail, renderTable } from '../output.js';
import { checkColumns, hostFields } from '../views.js';
import { clientFor, formatOf, out } from './common.js';

/** One event as a single table-ish line. */
export function eventLine(e: Event): string {
  const data = e.data === undefined ? '' : JSON.stringify(e.data);
  return `${e.time}  ${e.type}  ${e.target}  ${data.length > 200 ? `${data.slice(0, 197)}...` : data}`.trimEnd();
}

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

  program
    .command('events')
    .description('print events as they happen (Ctrl-C to stop)')
    .addOption(outputOption())
    .action(async (_o: unknown, cmd: Command) => {
      const format = formatOf(cmd);
      const { ws, onMessage } = await clientFor(cmd).openEvents();
      await new Promise<void>((resolve, reject) => {
        onMessage((raw) => {
          let e: Event;
          try {
            e = JSON.parse(raw.toString()) as Event;
          } catch {
            return;
          }
          if (format === 'json') out(JSON.stringify(e));
          else if (format === 'yaml') out(`---\n${renderData(e, 'yaml')}`);
          else out(eventLine(e));
        });
        ws.on('close', () => resolve());
        ws.on('error', (err) => reject(new CliError(`events: ${err.message}`)));
      });
    });
}
