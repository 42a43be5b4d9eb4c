/** Helpers shared by the command modules: the client of a command, output, and long actions. */
import { Option, type Command } from 'commander';
import type { Operation } from '../../shared/api-types.js';
import { ApiClient } from '../client.js';
import { resolveEndpoint, type Endpoint } from '../endpoint.js';
import { FORMATS, renderData, type OutputFormat } from '../output.js';
import { followOperation } from '../progress.js';
import { CliError, EXIT, oneLine } from '../errors.js';

/** Options every command sees (program-level). */
export interface GlobalOptions {
  url?: string;
  remote?: string;
  tokenFile?: string;
  tlsFingerprint?: string;
  tlsCa?: string;
  project?: string;
}

/** Options of commands that start a long action. */
export interface WaitOptions {
  wait: boolean;
  quiet?: boolean;
  /** -o: table is the human summary line; json/yaml print the Operation. */
  output?: OutputFormat;
}

/** The endpoint of a command, honouring --url/--remote/--token-file/--tls-*, env vars, the remotes and the state dir. */
export function endpointFor(cmd: Command): Endpoint {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  return resolveEndpoint({ url: g.url, remote: g.remote, tokenFile: g.tokenFile, tlsFingerprint: g.tlsFingerprint, tlsCa: g.tlsCa });
}

/** The API client for a command (see endpointFor); `--project`/$NIMBO_PROJECT goes on every request. */
export function clientFor(cmd: Command): ApiClient {
  const ep = endpointFor(cmd);
  const project = cmd.optsWithGlobals<GlobalOptions>().project ?? (process.env.NIMBO_PROJECT || undefined);
  return new ApiClient(ep.url, ep.token, { tokenProblem: ep.tokenProblem, tls: ep.tls, ...(project ? { project } : {}) });
}

/** The -o format of a command. */
export function formatOf(cmd: Command): OutputFormat {
  return (cmd.opts<{ output?: OutputFormat }>().output ?? 'table') as OutputFormat;
}

/** Write to stdout. */
export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') || text === '' ? text : `${text}\n`);
}

/** The -o option of a write command: the object it answers with, instead of a summary line. */
export function writeOutputOption(what = 'the final operation (its result holds the resource); with --no-wait, the operation as started'): Option {
  return new Option('-o, --output <format>', `table: a summary line; json/yaml: ${what}`).choices([...FORMATS]).default('table');
}

/** What -o json|yaml prints for a command that takes many names. */
export const MANY_NAMES_OUTPUT = 'one array of the final operations, of the names that succeeded (with --no-wait, as started)';

/** Add --no-wait, -q/--quiet and -o/--output to a command that starts an Operation (`what`: its -o help). */
export function withWaitOptions(cmd: Command, what?: string): Command {
  return cmd
    .option('--no-wait', 'print the operation id and return at once')
    .option('-q, --quiet', 'draw no progress and print no summary')
    .addOption(writeOutputOption(what));
}

/** Print a write's answer: the summary line for -o table, else the object as JSON/YAML. */
export function outResult(format: OutputFormat | undefined, data: unknown, line: string): void {
  out(format === undefined || format === 'table' ? line : renderData(data, format));
}

/**
 * Finish a long action: with --no-wait print the operation id; otherwise follow it to the end
 * (progress on stderr) and print the summary line that `summary` returns. With -o json|yaml, stdout
 * gets the Operation (final, or as started with --no-wait) and nothing else, and progress is drawn
 * only on a terminal. `emit: false` leaves the printing to the caller (eachName prints one array).
 */
export async function finishOperation(
  op: Operation,
  client: ApiClient,
  opts: WaitOptions,
  summary?: (final: Operation) => Promise<string | undefined> | string | undefined,
  emit = true,
): Promise<Operation> {
  const format = opts.output ?? 'table';
  if (!opts.wait) {
    if (format === 'table') out(op.id);
    else if (emit) out(renderData(op, format));
    return op;
  }
  const quiet = opts.quiet === true || (format !== 'table' && process.stderr.isTTY !== true);
  const final = await followOperation(client, op, { quiet });
  if (format !== 'table') {
    if (emit) out(renderData(final, format));
  } else if (!opts.quiet && summary) {
    const line = await summary(final);
    if (line) out(line);
  }
  return final;
}

/**
 * Run `fn` for each name in turn. A failure prints `nimbo: error: NAME: message` and the others still
 * run; at the end process.exitCode is the first failure's code (so any failure exits non-zero).
 * With a json/yaml `format`, what `fn` returned for each name that succeeded is printed as one array.
 */
export async function eachName(
  names: string[],
  fn: (name: string) => Promise<unknown>,
  write: (s: string) => void = (s) => process.stderr.write(s),
  format: OutputFormat = 'table',
): Promise<number> {
  let code = 0;
  const results: unknown[] = [];
  for (const name of names) {
    try {
      results.push(await fn(name));
    } catch (e) {
      if (names.length === 1) throw e;
      const msg = oneLine(e instanceof Error ? e.message : String(e));
      write(`nimbo: error: ${name}: ${msg}\n`);
      if (code === 0) code = e instanceof CliError ? e.exitCode : EXIT.failure;
    }
  }
  if (format !== 'table') out(renderData(results, format));
  if (code !== 0) process.exitCode = code;
  return code;
}
