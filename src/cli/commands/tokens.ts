/** `nimbo token create|list|revoke`: the caller's API tokens (a secret is shown once, at creation). */
import { InvalidArgumentError, type Command } from 'commander';
import type { Token } from '../../shared/identity-types.js';
import { attachExamples } from '../examples.js';
import { formatAge } from '../format.js';
import { createToken, listTokens, revokeToken } from '../identity-client.js';
import { outputOption, renderDetail, renderList, type Column } from '../output.js';
import { clientFor, formatOf, out, outResult, type GlobalOptions } from './common.js';

const UNIT_S: Record<string, number> = { m: 60, h: 3600, d: 86400, w: 7 * 86400, y: 365 * 86400 };

/** `--expires 30d` in seconds (m, h, d, w, y). */
export function parseExpires(v: string): number {
  const m = /^([1-9][0-9]{0,4})([mhdwy])$/.exec(v);
  const s = m ? Number(m[1]) * UNIT_S[m[2]!]! : NaN;
  if (!m || s < 60 || s > 10 * 366 * 86400) throw new InvalidArgumentError(`--expires ${JSON.stringify(v)} must look like 90m, 12h, 30d, 2w or 1y (at most 10 years)`);
  return s;
}

/** The token's state for lists: active, expired or revoked. */
export function tokenState(t: Token, now = Date.now()): string {
  if (t.revokedAt) return 'revoked';
  if (t.expiresAt && Date.parse(t.expiresAt) <= now) return 'expired';
  return 'active';
}

/** Columns of `nimbo token list`. */
export function tokenColumns(now = Date.now()): Column<Token>[] {
  return [
    { header: 'ID', value: (t) => t.id },
    { header: 'NAME', value: (t) => t.name },
    { header: 'ACCESS', value: (t) => t.access },
    { header: 'PROJECT', value: (t) => t.project ?? '*' },
    { header: 'STATE', value: (t) => tokenState(t, now) },
    { header: 'EXPIRES', value: (t) => t.expiresAt ?? 'never' },
    { header: 'LAST USED', value: (t) => (t.lastUsedAt ? `${formatAge(t.lastUsedAt, now)} ago` : 'never') },
  ];
}

/** Register the token commands. */
export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('create, list and revoke your API tokens');

  token
    .command('create')
    .description('create an API token and print its secret (shown only this once); with the global --project P it works only in project P')
    .argument('<name>', 'a name to recognise it by (letters, digits, space, . _ -)')
    .option('--read-only', 'the token can only read (GET-like calls)')
    .option('--expires <duration>', 'it expires after this long: 90m, 12h, 30d, 2w, 1y (default: never)', parseExpires)
    .addOption(outputOption())
    .action(async (name: string, o: { readOnly?: boolean; expires?: number }, cmd: Command) => {
      // The global --project (not NIMBO_PROJECT: a limit is asked for on the command line only) scopes the token.
      const project = cmd.optsWithGlobals<GlobalOptions>().project;
      const made = await createToken(clientFor(cmd), { name, access: o.readOnly ? 'read' : 'write', ...(project ? { project } : {}), ...(o.expires ? { expiresIn: o.expires } : {}) });
      outResult(formatOf(cmd), made, `${made.secret}\n(token ${made.token.id}: keep the secret now, it is not shown again)`);
    });

  token
    .command('list')
    .alias('ls')
    .description('list your API tokens (never their secrets)')
    .addOption(outputOption())
    .action(async (_o: unknown, cmd: Command) => {
      out(renderList(await listTokens(clientFor(cmd)), tokenColumns(), formatOf(cmd)));
    });

  token
    .command('revoke')
    .description('revoke an API token at once (it stays listed as revoked)')
    .argument('<id>', 'token id (from token list)')
    .addOption(outputOption())
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const t = await revokeToken(clientFor(cmd), id);
      const fields: [string, string][] = [['ID', t.id], ['Name', t.name], ['Revoked at', t.revokedAt ?? '-']];
      out(formatOf(cmd) === 'table' ? `Revoked token ${t.id} (${t.name})` : renderDetail(t, fields, formatOf(cmd)));
    });
  attachExamples(token);
}
