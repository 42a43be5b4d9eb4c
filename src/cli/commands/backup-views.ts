/** Shared pieces of the `nimbo backup` commands: retention options, sizes and table columns. */
import type { Command } from 'commander';
import type { Backup, RetentionPolicy } from '../../shared/backup-types.js';
import type { Column } from '../output.js';
import { intInRange } from '../validate.js';

const KEEP = [
  ['last', 'keepLast', 'the N newest'],
  ['hourly', 'keepHourly', 'the newest of each of the last N hours'],
  ['daily', 'keepDaily', 'the newest of each of the last N days'],
  ['weekly', 'keepWeekly', 'the newest of each of the last N ISO weeks'],
  ['monthly', 'keepMonthly', 'the newest of each of the last N months'],
  ['yearly', 'keepYearly', 'the newest of each of the last N years'],
] as const;

/** Add --keep-last, --keep-hourly, ... --keep-yearly to a command. */
export function withKeepOptions(cmd: Command): Command {
  for (const [flag, , help] of KEEP) cmd.option(`--keep-${flag} <n>`, `keep ${help}`, intInRange(`--keep-${flag}`, 0, 100_000));
  return cmd;
}

/** The retention policy the --keep-* options give (undefined when none was given). */
export function policyOf(o: Record<string, unknown>): RetentionPolicy | undefined {
  const p: RetentionPolicy = {};
  for (const [, key] of KEEP) if (typeof o[key] === 'number') p[key] = o[key] as number;
  return Object.keys(p).length ? p : undefined;
}

/** Bytes as KiB/MiB/GiB with one decimal. */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** The columns of `nimbo backup list`. */
export const backupColumns: Column<Backup>[] = [
  { header: 'ID', value: (b) => b.id },
  { header: 'INSTANCE', value: (b) => b.instance.name },
  { header: 'STORE', value: (b) => b.store },
  { header: 'MODE', value: (b) => b.mode },
  { header: 'CONSISTENCY', value: (b) => b.consistency },
  { header: 'SIZE', value: (b) => humanBytes(b.archives.filter((a) => a.name !== 'catalog').reduce((n, a) => n + a.size, 0)) },
  { header: 'NEW', value: (b) => humanBytes(b.stats.bytesNew) },
  { header: 'VERIFIED', value: (b) => (b.verified ? (b.verified.ok ? 'ok' : 'BROKEN') : '') },
];

/** The detail rows of `nimbo backup info`. */
export function backupFields(b: Backup): [string, string][] {
  return [
    ['id', b.id],
    ['instance', `${b.instance.name} (${b.instance.type}, ${b.instance.uuid})`],
    ['store', b.store],
    ['time', b.time],
    ['mode', b.mode],
    ['consistency', b.consistency],
    ['encrypted', b.encrypted ? 'yes' : 'no'],
    ...b.archives.map((a): [string, string] => [`archive ${a.name}`, `${a.type}, ${humanBytes(a.size)}${a.reason ? ` (full read: ${a.reason})` : ''}`]),
    ['read', humanBytes(b.stats.bytesRead)],
    ['new data', `${humanBytes(b.stats.bytesNew)} in ${b.stats.chunksNew} chunks (${b.stats.chunksReused} reused)`],
    ['took', `${b.stats.seconds.toFixed(1)} s`],
    ['verified', b.verified ? `${b.verified.ok ? 'ok' : 'BROKEN'} at ${b.verified.time}` : 'never'],
  ];
}
