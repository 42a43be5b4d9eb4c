/** `nimbo firewall group ...`: security groups, their rules, and attaching them to instances. */
import { Option, type Command } from 'commander';
import type { SecurityGroup, SecurityRule } from '../../shared/network-types.js';
import { CliError } from '../errors.js';
import { outputOption, renderDetail, renderList } from '../output.js';
import { groupColumns, groupFields, ruleText } from '../network-views.js';
import { parseName } from '../validate.js';
import { clientFor, formatOf, out, outResult, writeOutputOption } from './common.js';
import { attachExamples } from '../examples.js';

const name = (what: string) => (v: string) => parseName(v, what);
const enc = encodeURIComponent;

interface RuleOptions {
  direction: 'ingress' | 'egress';
  protocol: SecurityRule['protocol'];
  port?: string;
  source?: string;
  destination?: string;
  sourceGroup?: string;
  destinationGroup?: string;
  id?: string;
  description?: string;
}

/** Build a rule from `rule add` options. */
export function ruleBody(o: RuleOptions): SecurityRule {
  const rule: SecurityRule = { direction: o.direction, protocol: o.protocol };
  if (o.id) rule.id = o.id;
  if (o.port) rule.ports = o.port;
  if (o.source && o.sourceGroup) throw new CliError('give --source or --source-group, not both');
  if (o.destination && o.destinationGroup) throw new CliError('give --destination or --destination-group, not both');
  const src = o.source ?? (o.sourceGroup ? `group:${o.sourceGroup}` : undefined);
  const dst = o.destination ?? (o.destinationGroup ? `group:${o.destinationGroup}` : undefined);
  if (src) rule.source = src;
  if (dst) rule.destination = dst;
  if (o.description) rule.description = o.description;
  return rule;
}

/** Register `nimbo firewall ...`. */
export function registerFirewallCommands(program: Command): void {
  const fw = program.command('firewall').description('stateful firewall: security groups attached to instance NICs');
  const group = fw.command('group').description('security groups: named, reusable rule sets (inbound denied unless a rule allows it)');
  group
    .command('create')
    .description('create a security group (no rules: it allows nothing inbound)')
    .argument('<name>', 'group name', name('group name'))
    .option('--description <text>', 'free text')
    .addOption(writeOutputOption('the SecurityGroup'))
    .action(async (g: string, o: { description?: string }, cmd: Command) => {
      const v = await clientFor(cmd).json<SecurityGroup>('POST', '/security-groups', { body: { name: g, ...(o.description ? { description: o.description } : {}) } });
      outResult(formatOf(cmd), v, `Created security group ${g}`);
    });
  group.command('list').alias('ls').description('list security groups').addOption(outputOption()).action(async (_o: unknown, cmd: Command) => {
    const groups = await clientFor(cmd).listAll<SecurityGroup>('/security-groups', 'securityGroups');
    out(renderList(groups, groupColumns(), formatOf(cmd)));
  });
  group.command('info').description('show a group and its rules').argument('<name>', 'group name', name('group name')).addOption(outputOption()).action(async (g: string, _o: unknown, cmd: Command) => {
    const v = await clientFor(cmd).json<SecurityGroup>('GET', `/security-groups/${enc(g)}`);
    out(renderDetail(v, groupFields(v), formatOf(cmd)));
  });
  group.command('delete').alias('rm').description('delete a group nothing uses').argument('<name>', 'group name', name('group name')).action(async (g: string, _o: unknown, cmd: Command) => {
    await clientFor(cmd).json('DELETE', `/security-groups/${enc(g)}`);
    out(`Deleted security group ${g}`);
  });
  const rule = group.command('rule').description('rules of a group (applied at once; established connections go on)');
  rule
    .command('add')
    .description('add an allow rule')
    .argument('<group>', 'group name', name('group name'))
    .addOption(new Option('--direction <d>', 'ingress (to the instance) or egress (from it)').choices(['ingress', 'egress']).default('ingress'))
    .addOption(new Option('--protocol <p>', 'tcp, udp, icmp or any').choices(['tcp', 'udp', 'icmp', 'any']).default('tcp'))
    .option('--port <port[-end]>', 'destination port or range (tcp/udp), e.g. 22 or 8000-8100')
    .option('--source <cidr>', 'ingress: allowed source block (default any)')
    .option('--source-group <group>', 'ingress: allow the members of another group')
    .option('--destination <cidr>', 'egress: allowed destination block (default any)')
    .option('--destination-group <group>', 'egress: allow traffic to the members of a group')
    .option('--id <id>', 'rule id (default r1, r2, ...)')
    .option('--description <text>', 'free text')
    .addOption(writeOutputOption('the SecurityGroup with its rules'))
    .action(async (g: string, o: RuleOptions, cmd: Command) => {
      const v = await clientFor(cmd).json<SecurityGroup>('POST', `/security-groups/${enc(g)}/rules`, { body: { rules: [ruleBody(o)] } });
      outResult(formatOf(cmd), v, `Added rule to ${g}: ${ruleText(v.rules.at(-1)!)}`);
    });
  rule
    .command('delete')
    .alias('rm')
    .description('delete a rule by id')
    .argument('<group>', 'group name', name('group name'))
    .argument('<id>', 'rule id')
    .addOption(writeOutputOption('the SecurityGroup with its remaining rules'))
    .action(async (g: string, id: string, _o: unknown, cmd: Command) => {
      const v = await clientFor(cmd).json<SecurityGroup>('DELETE', `/security-groups/${enc(g)}/rules/${enc(id)}`);
      outResult(formatOf(cmd), v, `Deleted rule ${id} from ${g}`);
    });
  for (const [verb, help] of [['attach', 'attach a group to an instance (all its NICs, or --nic)'], ['detach', 'detach a group from an instance']] as const) {
    group
      .command(verb)
      .description(help)
      .argument('<group>', 'group name', name('group name'))
      .argument('<instance>', 'instance name', name('instance name'))
      .option('--nic <nic>', 'only this NIC, e.g. eth1')
      .addOption(writeOutputOption('the SecurityGroup after the change'))
      .action(async (g: string, inst: string, o: { nic?: string }, cmd: Command) => {
        const v = await clientFor(cmd).json<SecurityGroup>('POST', `/security-groups/${enc(g)}/${verb}`, { body: { instance: inst, ...(o.nic ? { nic: o.nic } : {}) } });
        outResult(formatOf(cmd), v, `${verb === 'attach' ? 'Attached' : 'Detached'} ${g} ${verb === 'attach' ? 'to' : 'from'} ${inst}${o.nic ? `/${o.nic}` : ''}`);
      });
  }
  attachExamples(fw);
}
