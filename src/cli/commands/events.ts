/** `nimbo events`: the daemon's event stream, filtered by type, as a readable table or one JSON object per line. */
import type { Command } from 'commander';
import type { Event } from '../../shared/api-types.js';
import { CliError } from '../errors.js';
import { outputOption, renderData } from '../output.js';
import { clientFor, formatOf, out } from './common.js';
import { printable } from '../format.js';
import { attachExamples } from '../examples.js';

type Data = Record<string, unknown>;
const obj = (d: unknown): Data => (d && typeof d === 'object' ? (d as Data) : {});
const str = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : '');

/**
 * The event's full type, TYPE.WHAT: instance.state, instance.oom, operation.<status>, image.status, network.<action>.
 * The daemon only sends the top-level type; the second word comes from what the event carries.
 */
export function eventName(e: Event): string {
  const d = obj(e.data);
  let what = '';
  if (e.type === 'instance') what = d.oom ? 'oom' : 'state' in d ? 'state' : '';
  else if (e.type === 'operation') what = str(d.status);
  else if (e.type === 'image') what = 'status' in d ? 'status' : '';
  else if (e.type === 'network') what = str(d.action);
  return what ? `${e.type}.${what}` : e.type;
}

/** Turn --type values (repeatable, comma lists) into a predicate; no values means every event. */
export function typeFilter(values: string[]): (e: Event) => boolean {
  const patterns = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  for (const p of patterns) {
    if (!/^[a-z*][a-z0-9*-]*(\.[a-z0-9*-]+)*$/i.test(p)) throw new CliError(`--type ${JSON.stringify(p)} must look like instance, instance.state or operation.*`);
  }
  if (patterns.length === 0) return () => true;
  // A bare type (instance) matches all its events; * matches any run of characters.
  const res = patterns.map((p) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}${p.includes('.') ? '' : '(\\..*)?'}$`, 'i'));
  return (e) => {
    const name = eventName(e);
    return res.some((re) => re.test(name));
  };
}

/** A short human summary of what the event says. */
export function eventSummary(e: Event): string {
  const d = obj(e.data);
  if (e.type === 'operation') {
    const err = obj(d.error);
    const progress = typeof d.progress === 'number' && d.status === 'running' ? ` ${d.progress}%` : '';
    const last = Array.isArray(d.log) && d.log.length > 0 ? `: ${str(d.log.at(-1))}` : '';
    return `${str(d.kind)} ${str(d.id).slice(0, 12)} ${str(d.status)}${progress}${err.message ? `: ${str(err.message)}` : last}`.trim();
  }
  if (e.type === 'instance' && d.oom) return `out of memory: ${str(d.oomKills) || '?'} process(es) killed`;
  if (e.type === 'instance' && 'state' in d) return `now ${str(d.state)}${d.restarted ? ` (restarted after exit code ${str(d.exitCode)})` : ''}`;
  if (e.type === 'image' && 'status' in d) return `image ${str(d.status)}`;
  if (e.type === 'network' && d.action) return `${str(d.action)}${d.forward ? ` ${str(d.forward)}` : ''}`;
  const json = e.data === undefined ? '' : JSON.stringify(e.data);
  return json.length > 100 ? `${json.slice(0, 97)}...` : json;
}

/** One table row: time (to the second, UTC), type, target, summary, in fixed-width columns as events stream in. */
export function eventRow(e: Event): string {
  const time = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.exec(e.time)?.[0].replace('T', ' ') ?? e.time;
  return `${printable(time).padEnd(19)}  ${printable(eventName(e)).padEnd(18)}  ${printable(e.target).padEnd(16)}  ${printable(eventSummary(e))}`.trimEnd();
}

/** The header line of the table view. */
export const EVENT_HEADER = `${'TIME (UTC)'.padEnd(19)}  ${'TYPE'.padEnd(18)}  ${'TARGET'.padEnd(16)}  SUMMARY`;

/** Register `nimbo events` on the program. */
export function registerEventsCommand(program: Command): void {
  program
    .command('events')
    .description('print events as they happen (Ctrl-C to stop): a table, or -o json for one JSON object per line')
    .option('--type <types>', 'only these event types, repeatable or comma-separated: instance, instance.state, instance.oom, operation.* (operation.running|success|failure|cancelled), image.status, network.*', (v: string, prev: string[] = []) => [...prev, v])
    .option('--no-header', 'no header line in the table view')
    .addOption(outputOption())
    .action(async (o: { type?: string[]; header: boolean }, cmd: Command) => {
      const format = formatOf(cmd);
      const wanted = typeFilter(o.type ?? []);
      const { ws, onMessage } = await clientFor(cmd).openEvents();
      if (format === 'table' && o.header) out(EVENT_HEADER);
      await new Promise<void>((resolve, reject) => {
        onMessage((raw) => {
          let e: Event;
          try {
            e = JSON.parse(raw.toString()) as Event;
          } catch {
            return;
          }
          if (!wanted(e)) return;
          if (format === 'json') out(JSON.stringify(e));
          else if (format === 'yaml') out(`---\n${renderData(e, 'yaml')}`);
          else out(eventRow(e));
        });
        ws.on('close', () => resolve());
        ws.on('error', (err) => reject(new CliError(`events: ${err.message}`)));
      });
    });
  attachExamples(program);
}
