/** `nimbo audit list`, `nimbo usage` and `nimbo webhook create|list|show|delete|deliveries`. */
import type { Command } from 'commander';
import { outputOption, renderData, renderTable } from '../output.js';
import { intInRange } from '../validate.js';
import { CliError, EXIT } from '../errors.js';
import { clientFor, formatOf, out } from './common.js';
import type { AuditPage, Delivery, UsageReport, Webhook } from '../../shared/trail-types.js';

const list = (xs: readonly string[]) => xs.join(',');

/** Render `data` in the -o format, or as a table of `rows`. */
function show(cmd: Command, data: unknown, headers: string[], rows: string[][]): void {
  const f = formatOf(cmd);
  out(f === 'table' ? renderTable(headers, rows) : renderData(data, f));
}

/** Register the audit, usage and webhook commands. */
export function registerTrailCommands(program: Command): void {
  const audit = program.command('audit').description('the audit log: mutating API calls and logins (admins)');
  audit
    .command('list')
    .alias('ls')
    .description('list audit entries, newest first')
    .option('--user <name>', 'only this user name (anonymous: calls without a valid credential, failed logins)')
    .option('--since <time>', 'ISO time: only entries at or after it')
    .option('--until <time>', 'ISO time: only entries before it')
    .option('--limit <n>', 'at most N entries (default 100)', intInRange('--limit', 1, 1000))
    .option('--after <id>', 'only entries older than this id (the "next" of a previous page)')
    .addOption(outputOption())
    .action(async (o: { user?: string; since?: string; until?: string; limit?: number; after?: string }, cmd: Command) => {
      for (const k of ['since', 'until'] as const) {
        if (o[k] !== undefined && Number.isNaN(Date.parse(o[k]!))) throw new CliError(`--${k} ${JSON.stringify(o[k])} must be an ISO time, e.g. 2026-12-01T00:00:00Z`, { exitCode: EXIT.usage });
      }
      const q = { user: o.user, since: o.since && new Date(o.since).toISOString(), until: o.until && new Date(o.until).toISOString(), limit: o.limit, after: o.after };
      const page = await clientFor(cmd).json<AuditPage>('GET', '/audit', { query: q });
      show(cmd, page, ['TIME', 'USER', 'SOURCE', 'METHOD', 'ROUTE', 'TARGET', 'STATUS', 'ERROR'], page.entries.map((e) => [e.time, e.user, e.source, e.method, e.route, Object.values(e.params ?? {}).join('/') || (e.loginName ?? ''), String(e.status), e.error ?? '']));
      if (page.next && formatOf(cmd) === 'table') process.stderr.write(`more: nimbo audit list --after ${page.next}\n`);
    });

  program
    .command('usage')
    .description("show the project's metered usage in a month: instance-hours by plan, disk GB-hours, transfer")
    .option('--month <YYYY-MM>', 'the month (UTC; default: this month)')
    .option('--csv', 'print CSV (as GET /usage?format=csv answers)')
    .addOption(outputOption())
    .action(async (o: { month?: string; csv?: boolean }, cmd: Command) => {
      if (o.month !== undefined && !/^\d{4}-(0[1-9]|1[0-2])$/.test(o.month)) throw new CliError(`--month ${JSON.stringify(o.month)} must be YYYY-MM, e.g. 2026-12`, { exitCode: EXIT.usage });
      const client = clientFor(cmd);
      if (o.csv) {
        process.stdout.write((await client.bytes('GET', '/usage', { query: { month: o.month, format: 'csv' } })).toString('utf8'));
        return;
      }
      // Follow the pages of instance rows; the totals cover all of them on every page.
      const r = await client.json<UsageReport & { next?: string }>('GET', '/usage', { query: { month: o.month, limit: 1000 } });
      for (let next = r.next; next; ) {
        const more = await client.json<UsageReport & { next?: string }>('GET', '/usage', { query: { month: o.month, limit: 1000, after: next } });
        r.instances.push(...more.instances);
        next = more.next;
      }
      delete r.next;
      const hours = (h: Record<string, number>) => Object.entries(h).map(([p, v]) => `${p}=${v}`).join(' ');
      show(cmd, r, ['INSTANCE', 'UUID', 'HOURS BY PLAN', 'DISK GB-H', 'IN BYTES', 'OUT BYTES'], [
        ...r.instances.map((i) => [i.name, i.instance, hours(i.instanceHours), String(i.diskGbHours), String(i.transferInBytes), String(i.transferOutBytes)]),
        ['TOTAL', '', hours(r.totals.instanceHours), String(r.totals.diskGbHours), String(r.totals.transferInBytes), String(r.totals.transferOutBytes)],
      ]);
    });

  const hook = program.command('webhook').description("webhooks: the project's events POSTed, HMAC-signed, to a URL");
  hook
    .command('create')
    .description('create a webhook; its signing secret is printed this once')
    .argument('<url>', 'http(s) URL that receives the events')
    .option('--events <types>', 'comma-separated event types: exact, "instance.*" or "*"', '*')
    .option('--description <text>', 'free text')
    .addOption(outputOption())
    .action(async (url: string, o: { events: string; description?: string }, cmd: Command) => {
      const events = o.events.split(',').map((s) => s.trim()).filter(Boolean);
      const w = await clientFor(cmd).json<Webhook>('POST', '/webhooks', { body: { url, events, ...(o.description ? { description: o.description } : {}) } });
      if (formatOf(cmd) !== 'table') return out(renderData(w, formatOf(cmd) as 'json' | 'yaml'));
      out(`webhook ${w.id} created for ${list(w.events)}\nsecret (shown only now; verify X-Nimbo-Signature with it): ${w.secret}`);
    });
  hook
    .command('list')
    .alias('ls')
    .description("list the project's webhooks")
    .addOption(outputOption())
    .action(async (_o: unknown, cmd: Command) => {
      const { webhooks } = await clientFor(cmd).json<{ webhooks: Webhook[] }>('GET', '/webhooks');
      show(cmd, webhooks, ['ID', 'URL', 'EVENTS', 'DESCRIPTION'], webhooks.map((w) => [w.id, w.url, list(w.events), w.description]));
    });
  hook
    .command('delete')
    .alias('rm')
    .description('delete a webhook and its delivery log')
    .argument('<id>', 'webhook id')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      await clientFor(cmd).bytes('DELETE', `/webhooks/${encodeURIComponent(id)}`);
      out(`webhook ${id} deleted`);
    });
  hook
    .command('deliveries')
    .description('the delivery log of a webhook, newest first')
    .argument('<id>', 'webhook id')
    .addOption(outputOption())
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const { deliveries } = await clientFor(cmd).json<{ deliveries: Delivery[] }>('GET', `/webhooks/${encodeURIComponent(id)}/deliveries`);
      show(cmd, deliveries, ['ID', 'EVENT', 'TARGET', 'STATUS', 'ATTEMPTS', 'HTTP', 'LAST ERROR', 'UPDATED'], deliveries.map((d) => [d.id, d.event, d.target, d.status, String(d.attempts), d.responseStatus === undefined ? '' : String(d.responseStatus), d.lastError ?? '', d.updatedAt]));
    });
}
