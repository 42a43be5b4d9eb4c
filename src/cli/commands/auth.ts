/** `nimbo login|logout|whoami`: log in with a password; the CLI keeps an API token per remote (0600). */
import type { Command } from 'commander';
import { userInfo } from 'node:os';
import type { Whoami } from '../../shared/identity-types.js';
import { loadToken, removeToken, saveToken } from '../credentials.js';
import { CliError, EXIT } from '../errors.js';
import { attachExamples } from '../examples.js';
import { cliTokenName, clientWithToken, loginRemoteOf, loginClientFor, loginForToken, revokeToken, whoami } from '../identity-client.js';
import { outputOption, renderDetail } from '../output.js';
import { readLine, readSecret } from '../password-input.js';
import { parseName } from '../validate.js';
import { clientFor, formatOf, out, outResult } from './common.js';
import { parseExpires } from './tokens.js';

/** Detail rows of `nimbo whoami`. */
export function whoamiFields(w: Whoami): [string, string][] {
  const roles = Object.entries(w.projects).map(([p, r]) => `${p}=${r}`).join(', ') || '-';
  return [
    ['User', w.user.name],
    ['Platform role', w.user.platformRole ?? '-'],
    ['Default project', w.user.defaultProject],
    ['Projects', roles],
    ['Via', w.token ? `token ${w.token.id} (${w.token.access}${w.token.project ? `, project ${w.token.project}` : ''})` : w.via],
  ];
}

/** The id of a `nimbo_<id>_<secret>` token. */
function idOf(token: string): string | undefined {
  return /^nimbo_([0-9a-f]{16})_/.exec(token)?.[1];
}

/** Register login, logout and whoami. */
export function registerAuthCommands(program: Command): void {
  const login = program
    .command('login')
    .description('log in with your password; an API token for this machine is stored (mode 0600) for the current remote')
    .option('--user <name>', 'user name (asked on a terminal when missing)', (v) => parseName(v, 'user name'))
    .option('--expires <duration>', 'the stored token expires after this long: 12h, 30d, 1y (default: never)', parseExpires)
    .addOption(outputOption())
    .action(async (o: { user?: string; expires?: number }, cmd: Command) => {
      const remote = loginRemoteOf(cmd);
      const name = o.user ?? parseName((await readLine(`user [${userInfo().username}]: `)) || userInfo().username, 'user name');
      const password = await readSecret(`password for ${name}: `);
      const made = await loginForToken(loginClientFor(cmd), name, password, { name: cliTokenName(), ...(o.expires ? { expiresIn: o.expires } : {}) });
      const file = saveToken(remote, made.secret);
      outResult(formatOf(cmd), { user: made.user, token: made.token, file }, `Logged in as ${made.user.name}; token ${made.token.id} saved in ${file}`);
    });
  attachExamples(login);

  program
    .command('logout')
    .description('revoke the token that login stored for the current remote and forget it')
    .action(async (_o: unknown, cmd: Command) => {
      const remote = loginRemoteOf(cmd);
      const token = loadToken(remote);
      if (!token) throw new CliError(`not logged in (no stored token for remote ${remote})`, { exitCode: EXIT.usage });
      const id = idOf(token);
      if (id) await revokeToken(clientWithToken(cmd, token), id).catch((e: unknown) => {
        // A token the daemon already refuses (revoked, expired) is forgotten all the same.
        if (!(e instanceof CliError) || e.status !== 401) throw e;
      });
      removeToken(remote);
      out(`Logged out${id ? ` (token ${id} revoked)` : ''}`);
    });

  program
    .command('whoami')
    .description('show who the CLI acts as: user, platform role, project roles and token scope')
    .addOption(outputOption())
    .action(async (_o: unknown, cmd: Command) => {
      const w = await whoami(clientFor(cmd));
      out(renderDetail(w, whoamiFields(w), formatOf(cmd)));
    });
}
