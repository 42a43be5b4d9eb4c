/** `nimbo operation list|show|wait|cancel`. */
import type { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { CliError, EXIT } from '../errors.js';
import { outputOption, renderDetail } from '../output.js';
import { renderFilteredList, withListOptions, type ListOptions } from '../list-view.js';
import { followOperation } from '../progress.js';
import { intInRange } from '../validate.js';
import { operationColumns, operationFields, operationFilterKeys } from '../views.js';
import { clientFor, formatOf, out } from './common.js';
import { attachExamples } from '../examples.js';

/** The one id in `ids` that starts with `prefix`; a CliError naming the candidates when several do. */
export function matchPrefix(ids: string[], prefix: string): string | undefined {
  const hits = [...new Set(ids.filter((i) => i.startsWith(prefix)))].sort();
  if (hits.length > 1) {
    const shown = hits.slice(0, 10).join(', ') + (hits.length > 10 ? `, and ${hits.length - 10} more` : '');
    throw new CliError(`operation id prefix ${prefix} is ambiguous: it matches ${shown}`, { exitCode: EXIT.usage });
  }
  return hits[0];
}

/** A full operation id for `id`, which may be a unique prefix (an exact id wins without a listing). */
export async function resolveOperationId(client: ApiClient, id: string): Promise<string> {
  try {
    return (await client.getOperation(id)).id;
  } catch (e) {
    if (!(e instanceof CliError) || e.status !== 404 || id === '') throw e;
    const hit = matchPrefix((await client.listOperations()).map((o) => o.id), id);
    if (hit === undefined) throw e;
    return hit;
  }
}

/** Register the operation commands on the program. */
export function registerOperationCommands(program: Command): void {
  const operation = program.command('operation').alias('op').description('inspect, wait for and cancel long-running operations');

  withListOptions(
    operation
      .command('list')
      .alias('ls')
      .description('list operations, newest first (the daemon keeps the last 500 finished ones of the last 7 days, and every running one)')
      .option('--limit <n>', 'only the newest N (counted before --filter)', intInRange('--limit', 1, 100000))
      .addOption(outputOption()),
    operationColumns(),
    Object.keys(operationFilterKeys),
  ).action(async (o: ListOptions & { limit?: number }, cmd: Command) => {
    out(renderFilteredList(await clientFor(cmd).listOperations(o.limit), operationColumns(), operationFilterKeys, o));
  });

  operation
    .command('show')
    .description('show one operation with its log')
    .argument('<id>', 'operation id, or a unique prefix of one')
    .addOption(outputOption())
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const client = clientFor(cmd);
      const op = await client.getOperation(await resolveOperationId(client, id));
      out(renderDetail(op, operationFields(op), formatOf(cmd)));
    });

  operation
    .command('wait')
    .description('wait for an operation to end (exits non-zero if it fails)')
    .argument('<id>', 'operation id, or a unique prefix of one')
    .option('--timeout <s>', 'give up after this many seconds', intInRange('--timeout', 1, 7 * 24 * 3600))
    .option('-q, --quiet', 'draw no progress')
    .addOption(outputOption())
    .action(async (id: string, o: { timeout?: number; quiet?: boolean }, cmd: Command) => {
      const client = clientFor(cmd);
      const start = await client.getOperation(await resolveOperationId(client, id));
      // As for every write: with -o json|yaml, progress only on a terminal.
      const quiet = o.quiet === true || (formatOf(cmd) !== 'table' && process.stderr.isTTY !== true);
      const final = await followOperation(client, start, { quiet, timeoutS: o.timeout });
      out(renderDetail(final, operationFields(final), formatOf(cmd)));
    });

  operation
    .command('cancel')
    .description('cancel a running operation')
    .argument('<id>', 'operation id, or a unique prefix of one')
    .addOption(outputOption())
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const client = clientFor(cmd);
      const op = await client.cancelOperation(await resolveOperationId(client, id));
      out(renderDetail(op, operationFields(op), formatOf(cmd)));
    });
  attachExamples(operation);
}
