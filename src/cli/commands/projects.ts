/** `nimbo project create|list|show|delete` and `nimbo project member add|list|set-role|remove`. */
import { InvalidArgumentError, type Command } from 'commander';
import type { Member, Project } from '../../shared/identity-types.js';
import { attachExamples } from '../examples.js';
import { formatAge } from '../format.js';
import { addMember, createProject, deleteProject, getProject, listMembers, listProjects, removeMember, setMemberRole } from '../identity-client.js';
import { outputOption, renderDetail, renderList, type Column } from '../output.js';
import { parseName } from '../validate.js';
import { clientFor, eachName, formatOf, out, outResult } from './common.js';

const ROLES = ['owner', 'member', 'viewer'] as const;
function projectRole(v: string): Member['role'] {
  if (!(ROLES as readonly string[]).includes(v)) throw new InvalidArgumentError(`role ${JSON.stringify(v)} must be one of ${ROLES.join(', ')}`);
  return v as Member['role'];
}

/** Columns of `nimbo project list`. */
export function projectColumns(now = Date.now()): Column<Project>[] {
  return [
    { header: 'NAME', value: (p) => p.name },
    { header: 'DESCRIPTION', value: (p) => p.description || '-' },
    { header: 'AGE', value: (p) => formatAge(p.createdAt, now) },
  ];
}

/** Columns of `nimbo project member list`. */
export function memberColumns(now = Date.now()): Column<Member>[] {
  return [
    { header: 'USER', value: (m) => m.user },
    { header: 'ROLE', value: (m) => m.role },
    { header: 'ADDED', value: (m) => `${formatAge(m.addedAt, now)} ago` },
  ];
}

/** Register the project commands. */
export function registerProjectCommands(program: Command): void {
  const project = program.command('project').description('projects own instances, networks, volumes and images; members have roles in them');
  const pname = (v: string) => parseName(v, 'project name');
  const uname = (v: string) => parseName(v, 'user name');

  project
    .command('create')
    .description('create a project; you become its owner')
    .argument('<name>', 'project name', pname)
    .option('--description <text>', 'what the project is for')
    .addOption(outputOption())
    .action(async (n: string, o: { description?: string }, cmd: Command) => {
      const p = await createProject(clientFor(cmd), n, o.description);
      outResult(formatOf(cmd), p, `Created project ${p.name}`);
    });

  project
    .command('list')
    .alias('ls')
    .description('list the projects you can see')
    .addOption(outputOption())
    .action(async (_o: unknown, cmd: Command) => out(renderList(await listProjects(clientFor(cmd)), projectColumns(), formatOf(cmd))));

  project
    .command('show')
    .description('show a project with its members')
    .argument('<name>', 'project name', pname)
    .addOption(outputOption())
    .action(async (n: string, _o: unknown, cmd: Command) => {
      const c = clientFor(cmd);
      const p = await getProject(c, n);
      const members = await listMembers(c, n);
      const fields: [string, string][] = [['Name', p.name], ['Description', p.description || '-'], ['Created', p.createdAt], ['Members', members.map((m) => `${m.user} (${m.role})`).join(', ') || '-']];
      out(renderDetail({ ...p, members }, fields, formatOf(cmd)));
    });

  project
    .command('delete')
    .alias('rm')
    .description('delete projects that own nothing any more (tokens limited to them are revoked)')
    .argument('<names...>', 'project names')
    .action(async (names: string[], _o: unknown, cmd: Command) => {
      const c = clientFor(cmd);
      await eachName(names.map(pname), async (n) => {
        await deleteProject(c, n);
        out(`Deleted project ${n}`);
      });
    });

  const member = project.command('member').description("a project's members and their roles (owner, member, viewer)");
  member
    .command('add')
    .description('add a user to a project')
    .argument('<project>', 'project name', pname)
    .argument('<user>', 'user name', uname)
    .option('--role <role>', 'owner, member or viewer', projectRole, 'member')
    .addOption(outputOption())
    .action(async (p: string, u: string, o: { role: Member['role'] }, cmd: Command) => {
      const m = await addMember(clientFor(cmd), p, u, o.role);
      outResult(formatOf(cmd), m, `Added ${m.user} to project ${m.project} as ${m.role}`);
    });
  member
    .command('list')
    .alias('ls')
    .description("list a project's members")
    .argument('<project>', 'project name', pname)
    .addOption(outputOption())
    .action(async (p: string, _o: unknown, cmd: Command) => out(renderList(await listMembers(clientFor(cmd), p), memberColumns(), formatOf(cmd))));
  member
    .command('set-role')
    .description("change a member's role (a project keeps at least one owner)")
    .argument('<project>', 'project name', pname)
    .argument('<user>', 'user name', uname)
    .argument('<role>', 'owner, member or viewer', projectRole)
    .addOption(outputOption())
    .action(async (p: string, u: string, role: Member['role'], _o: unknown, cmd: Command) => {
      const m = await setMemberRole(clientFor(cmd), p, u, role);
      outResult(formatOf(cmd), m, `${m.user} is now ${m.role} of project ${m.project}`);
    });
  member
    .command('remove')
    .alias('rm')
    .description('remove a member from a project (not its last owner)')
    .argument('<project>', 'project name', pname)
    .argument('<user>', 'user name', uname)
    .action(async (p: string, u: string, _o: unknown, cmd: Command) => {
      await removeMember(clientFor(cmd), p, u);
      out(`Removed ${u} from project ${p}`);
    });
  attachExamples(project);
}
