/** `nimbo plan ...` (plans: sizes, price, class, limits) and `nimbo quota ...` (a project's limits and usage). */
import { Option, type Command } from 'commander';
import type { Plan, PlanCreate, Quota, QuotaField, QuotaLimits } from '../../shared/plan-types.js';
import { QUOTA_FIELDS } from '../../shared/plan-types.js';
import { CliError, EXIT } from '../errors.js';
import { outputOption, renderDetail, renderList, type Column } from '../output.js';
import { intInRange, parseName } from '../validate.js';
import { clientFor, formatOf, out, outResult, writeOutputOption } from './common.js';
import { attachExamples } from '../examples.js';

const enc = encodeURIComponent;
const planName = (v: string) => parseName(v, 'plan name');
const limit = (s: number) => (s === 0 ? '-' : String(s));

/** Columns of `plan list`. */
export function planColumns(): Column<Plan>[] {
  return [
    { header: 'NAME', value: (p) => p.name },
    { header: 'CLASS', value: (p) => p.class },
    { header: 'VCPUS', value: (p) => String(p.vcpus) },
    { header: 'MEMORY', value: (p) => `${p.memoryMiB}MiB` },
    { header: 'DISK', value: (p) => `${p.diskGiB}GiB` },
    { header: 'TRANSFER', value: (p) => `${p.transferGiBPerMonth}GiB/mo` },
    { header: 'PRICE/H', value: (p) => p.pricePerHour },
    { header: 'NET IN/OUT', value: (p) => `${limit(p.network.inMbit)}/${limit(p.network.outMbit)} Mbit` },
  ];
}

/** The fields of `plan show`. */
export function planFields(p: Plan): [string, string][] {
  const d = p.disk;
  return [
    ['name', p.name], ['class', p.class], ['vcpus', String(p.vcpus)], ['memory', `${p.memoryMiB} MiB`], ['disk', `${p.diskGiB} GiB`],
    ['transfer', `${p.transferGiBPerMonth} GiB/month`], ['price', `${p.pricePerHour}/hour`],
    ['cpu weight', p.class === 'shared' ? String(p.cpuWeight) : '- (dedicated cores)'],
    ['disk read', `${limit(d.readBps)} B/s, ${limit(d.readIops)} IOPS`], ['disk write', `${limit(d.writeBps)} B/s, ${limit(d.writeIops)} IOPS`],
    ['network', `in ${limit(p.network.inMbit)} Mbit/s, out ${limit(p.network.outMbit)} Mbit/s`],
    ['description', p.description], ['built-in', p.builtin ? 'yes' : 'no'],
  ];
}

interface PlanOptions {
  class?: 'shared' | 'dedicated';
  vcpus: number;
  memory: number;
  disk: number;
  transfer?: number;
  price?: string;
  cpuWeight?: number;
  diskReadBps?: number;
  diskWriteBps?: number;
  diskReadIops?: number;
  diskWriteIops?: number;
  netIn?: number;
  netOut?: number;
  description?: string;
}

/** Build POST /plans from `plan create` arguments. */
export function planCreateBody(name: string, o: PlanOptions): PlanCreate {
  if (o.price !== undefined && !/^[0-9]{1,9}(\.[0-9]{1,6})?$/.test(o.price)) throw new CliError(`--price ${o.price}: a decimal number with at most 6 decimals, e.g. 0.0125`, { exitCode: EXIT.usage });
  const disk = Object.fromEntries(Object.entries({ readBps: o.diskReadBps, writeBps: o.diskWriteBps, readIops: o.diskReadIops, writeIops: o.diskWriteIops }).filter(([, v]) => v !== undefined));
  const network = Object.fromEntries(Object.entries({ inMbit: o.netIn, outMbit: o.netOut }).filter(([, v]) => v !== undefined));
  return {
    name, vcpus: o.vcpus, memoryMiB: o.memory, diskGiB: o.disk,
    ...(o.class ? { class: o.class } : {}),
    ...(o.transfer !== undefined ? { transferGiBPerMonth: o.transfer } : {}),
    ...(o.price !== undefined ? { pricePerHour: o.price } : {}),
    ...(o.cpuWeight !== undefined ? { cpuWeight: o.cpuWeight } : {}),
    ...(Object.keys(disk).length ? { disk } : {}),
    ...(Object.keys(network).length ? { network } : {}),
    ...(o.description !== undefined ? { description: o.description } : {}),
  };
}

/** Build PUT /quota from `quota set FIELD=N ...` (N or "unlimited"). */
export function quotaBody(pairs: string[]): QuotaLimits {
  const body: QuotaLimits = {};
  for (const p of pairs) {
    const m = /^([A-Za-z]+)=([0-9]{1,12}|unlimited)$/.exec(p);
    const field = m?.[1] as QuotaField | undefined;
    if (!m || !QUOTA_FIELDS.includes(field!)) throw new CliError(`"${p}" is not FIELD=N or FIELD=unlimited (fields: ${QUOTA_FIELDS.join(', ')})`, { exitCode: EXIT.usage });
    body[field!] = m[2] === 'unlimited' ? null : Number(m[2]);
  }
  if (!pairs.length) throw new CliError(`nothing to set: give FIELD=N (fields: ${QUOTA_FIELDS.join(', ')})`, { exitCode: EXIT.usage });
  return body;
}

/** The lines of `quota show`. */
export function quotaFields(q: Quota): [string, string][] {
  return [['project', q.project], ...QUOTA_FIELDS.map((f): [string, string] => [f, `${q.usage[f]} / ${q.limits[f] ?? 'unlimited'}`])];
}

const int = (what: string, max: number) => intInRange(what, 0, max);

/** Register `nimbo plan ...` and `nimbo quota ...`. */
export function registerPlanCommands(program: Command): void {
  const plan = program.command('plan').description('plans: vCPUs, memory, disk, transfer, price and limits an instance is launched with (--plan)');
  plan.command('list').alias('ls').description('list plans').addOption(outputOption()).action(async (_o: unknown, cmd: Command) => {
    const plans = await clientFor(cmd).listAll<Plan>('/plans', 'plans');
    out(renderList(plans, planColumns(), formatOf(cmd)));
  });
  plan.command('show').alias('info').description('show a plan').argument('<name>', 'plan name', planName).addOption(outputOption()).action(async (n: string, _o: unknown, cmd: Command) => {
    const p = await clientFor(cmd).json<Plan>('GET', `/plans/${enc(n)}`);
    out(renderDetail(p, planFields(p), formatOf(cmd)));
  });
  plan
    .command('create')
    .description('create a plan (operators and admins)')
    .argument('<name>', 'plan name (DNS label)', planName)
    .addOption(new Option('--class <class>', 'shared (CPU weight) or dedicated (pinned cores, reserved memory)').choices(['shared', 'dedicated']))
    .requiredOption('--vcpus <n>', 'vCPUs', intInRange('--vcpus', 1, 64))
    .requiredOption('--memory <MiB>', 'memory in MiB', intInRange('--memory', 64, 262144))
    .requiredOption('--disk <GiB>', 'root disk in GiB', intInRange('--disk', 1, 16384))
    .option('--transfer <GiB>', 'traffic per month included, GiB', int('--transfer', 10_000_000))
    .option('--price <decimal>', 'price per hour, e.g. 0.0125')
    .option('--cpu-weight <n>', 'shared plans: relative CPU weight (default 100)', intInRange('--cpu-weight', 1, 10000))
    .option('--disk-read-bps <n>', 'root disk read bytes/s (0 = unlimited)', int('--disk-read-bps', 2 ** 50))
    .option('--disk-write-bps <n>', 'root disk write bytes/s (0 = unlimited)', int('--disk-write-bps', 2 ** 50))
    .option('--disk-read-iops <n>', 'root disk read operations/s', int('--disk-read-iops', 10_000_000))
    .option('--disk-write-iops <n>', 'root disk write operations/s', int('--disk-write-iops', 10_000_000))
    .option('--net-in <Mbit>', 'each NIC: Mbit/s toward the instance', int('--net-in', 100_000))
    .option('--net-out <Mbit>', 'each NIC: Mbit/s from the instance', int('--net-out', 100_000))
    .option('--description <text>', 'free text')
    .addOption(writeOutputOption('the Plan'))
    .action(async (n: string, o: PlanOptions, cmd: Command) => {
      const p = await clientFor(cmd).json<Plan>('POST', '/plans', { body: planCreateBody(n, o) });
      outResult(formatOf(cmd), p, `Created plan ${p.name} (${p.class}, ${p.vcpus} vCPUs, ${p.memoryMiB} MiB, ${p.diskGiB} GiB, ${p.pricePerHour}/hour)`);
    });
  plan.command('delete').alias('rm').description('delete a plan no instance uses').argument('<name>', 'plan name', planName).action(async (n: string, _o: unknown, cmd: Command) => {
    await clientFor(cmd).json('DELETE', `/plans/${enc(n)}`);
    out(`Deleted plan ${n}`);
  });
  attachExamples(plan);

  const quota = program.command('quota').description("a project's limits (instances, vcpus, memoryMiB, diskGiB, networks, floatingIps, snapshots) and usage");
  quota.command('show').description('show the quota and usage of the project (--project or your default)').addOption(outputOption()).action(async (_o: unknown, cmd: Command) => {
    const q = await clientFor(cmd).json<Quota>('GET', '/quota');
    out(renderDetail(q, quotaFields(q), formatOf(cmd)));
  });
  quota
    .command('set')
    .description('set limits of the project (admins only): FIELD=N or FIELD=unlimited')
    .argument('<limits...>', `FIELD=N pairs; fields: ${QUOTA_FIELDS.join(', ')}`)
    .addOption(writeOutputOption('the Quota'))
    .action(async (pairs: string[], _o: unknown, cmd: Command) => {
      const q = await clientFor(cmd).json<Quota>('PUT', '/quota', { body: quotaBody(pairs) });
      outResult(formatOf(cmd), q, `Set quota of project ${q.project}`);
    });
  attachExamples(quota);
}
