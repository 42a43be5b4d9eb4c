/** Helpers shared by the command modules: the client of a command, output, and long actions. */
import type { Command } from 'commander';
import type { Operation } from '../../shared/api-types.js';
import { ApiClient } from '../client.js';
import { resolveEndpoint } from '../endpoint.js';
import type { OutputFormat } from '../output.js';
import { followOperation } from '../progress.js';
import { CliError, EXIT, oneLine } from '../errors.js';

/** Options every command sees (program-level). */
export interface GlobalOptions {
  url?: string;
  token?: string;
  tlsFingerprint?: string;
  tlsCa?: string;
}

/** Options of commands that start a long action. */
export interface WaitOptions {
  wait: boolean;
  quiet?: boolean;
}

/** The API client for a command, honouring --url/--token/--tls-*, env vars and the state dir. */
export function clientFor(cmd: Command): ApiClient {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const ep = resolveEndpoint({ url: g.url, token: g.token, tlsFingerprint: g.tlsFingerprint, tlsCa: g.tlsCa });
  return new ApiClient(ep.url, ep.token, { tokenProblem: ep.tokenProblem, tls: ep.tls });
}

/** The -o format of a command. */
export function formatOf(cmd: Command): OutputFormat {
  return (cmd.opts<{ output?: OutputFormat }>().output ?? 'table') as OutputFormat;
}

/** Write to stdout. */
export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') || text === '' ? text : `${text}\n`);
}

/** Add --no-wait and -q/--quiet to a command that starts an Operation. */
export function withWaitOptions(cmd: Command): Command {
  return cmd.option('--no-wait', 'print the operation id and return at once').option('-q, --quiet', 'draw no progress and print no summary');
}

/**
 * Finish a long action: with --no-wait print the operation id; otherwise follow it to the end
 * (progress on stderr) and print the summary line that `summary` returns.
 */
export async function finishOperation(
  op: Operation,
  client: ApiClient,
  opts: WaitOptions,
  summary?: (final: Operation) => Promise<string | undefined> | string | undefined,
): Promise<Operation | undefined> {
  if (!opts.wait) {
    out(op.id);
    return undefined;
  }
  const final = await followOperation(client, op, { quiet: opts.quiet });
  if (!opts.quiet && summary) {
    const line = await summary(final);
    if (line) out(line);
  }
  return final;
}

/**
 * Run `fn` for each name in turn. A failure prints `nimbo: error: NAME: message` and the others still
 * run; at the end process.exitCode is the first failure's code (so any failure exits non-zero).
 */
export async function eachName(names: string[], fn: (name: string) => Promise<void>, write: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
  let code = 0;
  for (const name of names) {
    try {
      await fn(name);
    } catch (e) {
      if (names.length === 1) throw e;
      const msg = oneLine(e instanceof Error ? e.message : String(e));
      write(`nimbo: error: ${name}: ${msg}\n`);
      if (code === 0) code = e instanceof CliError ? e.exitCode : EXIT.failure;
    }
  }
  if (code !== 0) process.exitCode = code;
  return code;
}
