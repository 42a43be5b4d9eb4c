/** `nimbo user create|list|show|set-role|disable|enable|delete|passwd`: accounts (platform admins; passwd: anyone). */
import { InvalidArgumentError, type Command } from 'commander';
import type { User } from '../../shared/identity-types.js';
import { attachExamples } from '../examples.js';
import { formatAge } from '../format.js';
import { changeOwnPassword, createUser, deleteUser, getUser, listUsers, patchUser } from '../identity-client.js';
import { outputOption, renderDetail, renderList, type Column } from '../output.js';
import { readSecret } from '../password-input.js';
import { parseName } from '../validate.js';
import { clientFor, eachName, formatOf, out, outResult } from './common.js';

const ROLES = ['admin', 'operator', 'none'] as const;

function platformRole(v: string): 'admin' | 'operator' | 'none' {
  if (!(ROLES as readonly string[]).includes(v)) throw new InvalidArgumentError(`role ${JSON.stringify(v)} must be one of ${ROLES.join(', ')}`);
  return v as 'admin' | 'operator' | 'none';
}

/** Columns of `nimbo user list`. */
export function userColumns(now = Date.now()): Column<User>[] {
  return [
    { header: 'NAME', value: (u) => u.name },
    { header: 'ROLE', value: (u) => u.platformRole ?? '-' },
    { header: 'DEFAULT PROJECT', value: (u) => u.defaultProject },
    { header: 'STATE', value: (u) => (u.disabled ? 'disabled' : 'enabled') },
    { header: 'AGE', value: (u) => formatAge(u.createdAt, now) },
  ];
}

/** Detail rows of `nimbo user show`. */
export function userFields(u: User): [string, string][] {
  return [['Name', u.name], ['ID', u.id], ['Platform role', u.platformRole ?? '-'], ['Default project', u.defaultProject], ['State', u.disabled ? 'disabled' : 'enabled'], ['Created', u.createdAt]];
}

/** Register the user commands. */
export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('manage user accounts (platform admins), or change your own password');
  const name = (v: string) => parseName(v, 'user name');

  user
    .command('create')
    .description('create a user; the password is asked on the terminal (twice), or read as a line from stdin')
    .argument('<name>', 'user name', name)
    .option('--role <role>', 'platform role: admin or operator (default: none)', platformRole)
    .option('--default-project <project>', 'the project its requests run in by default (it becomes a member)', (v) => parseName(v, 'project name'))
    .addOption(outputOption())
    .action(async (n: string, o: { role?: string; defaultProject?: string }, cmd: Command) => {
      const password = await readSecret(`password for ${n}: `, true);
      const role = o.role && o.role !== 'none' ? { platformRole: o.role as 'admin' | 'operator' } : {};
      const u = await createUser(clientFor(cmd), { name: n, password, ...role, ...(o.defaultProject ? { defaultProject: o.defaultProject } : {}) });
      outResult(formatOf(cmd), u, `Created user ${u.name}`);
    });

  user
    .command('list')
    .alias('ls')
    .description('list users')
    .addOption(outputOption())
    .action(async (_o: unknown, cmd: Command) => out(renderList(await listUsers(clientFor(cmd)), userColumns(), formatOf(cmd))));

  user
    .command('show')
    .description('show one user')
    .argument('<name>', 'user name', name)
    .addOption(outputOption())
    .action(async (n: string, _o: unknown, cmd: Command) => {
      const u = await getUser(clientFor(cmd), n);
      out(renderDetail(u, userFields(u), formatOf(cmd)));
    });

  user
    .command('set-role')
    .description("set a user's platform role (none removes it)")
    .argument('<name>', 'user name', name)
    .argument('<role>', 'admin, operator or none', platformRole)
    .addOption(outputOption())
    .action(async (n: string, role: string, _o: unknown, cmd: Command) => {
      const u = await patchUser(clientFor(cmd), n, { platformRole: role === 'none' ? null : (role as 'admin' | 'operator') });
      outResult(formatOf(cmd), u, `User ${u.name}: platform role ${u.platformRole ?? 'none'}`);
    });

  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    user
      .command(verb)
      .description(disabled ? 'disable users: they cannot log in and their sessions end (tokens stop working)' : 'enable disabled users again')
      .argument('<names...>', 'user names')
      .addOption(outputOption())
      .action(async (names: string[], _o: unknown, cmd: Command) => {
        const c = clientFor(cmd);
        await eachName(names.map(name), async (n) => {
          const u = await patchUser(c, n, { disabled });
          if (formatOf(cmd) === 'table') out(`${disabled ? 'Disabled' : 'Enabled'} user ${u.name}`);
          return u;
        }, undefined, formatOf(cmd));
      });
  }

  user
    .command('delete')
    .alias('rm')
    .description('delete users with their memberships, tokens and sessions')
    .argument('<names...>', 'user names')
    .action(async (names: string[], _o: unknown, cmd: Command) => {
      const c = clientFor(cmd);
      await eachName(names.map(name), async (n) => {
        await deleteUser(c, n);
        out(`Deleted user ${n}`);
      });
    });

  user
    .command('passwd')
    .description("change your own password (current, then new), or as a platform admin set another user's")
    .argument('[name]', "another user's name (platform admins)", name)
    .action(async (n: string | undefined, _o: unknown, cmd: Command) => {
      const c = clientFor(cmd);
      if (n) {
        await patchUser(c, n, { password: await readSecret(`new password for ${n}: `, true) });
        out(`Password of ${n} changed (its sessions ended)`);
        return;
      }
      const current = await readSecret('current password: ');
      await changeOwnPassword(c, current, await readSecret('new password: ', true));
      out('Password changed (your sessions ended)');
    });
  attachExamples(user);
}
