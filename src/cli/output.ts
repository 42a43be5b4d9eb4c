/** Rendering of read results as `-o table|json|yaml`. */
import { createRequire } from 'node:module';
import { Option } from 'commander';
import { printable } from './format.js';
// yaml is loaded on first use (synchronously, through its CommonJS build): most commands never print YAML,
// and loading it costs a good part of the CLI's startup time.
const requireCjs = createRequire(import.meta.url);
let yaml: typeof import('yaml') | undefined;

/** The output formats of read commands. */
export const FORMATS = ['table', 'json', 'yaml'] as const;
/** One of FORMATS. */
export type OutputFormat = (typeof FORMATS)[number];

/** A table column: header and how to get the cell text of a row. */
export interface Column<T> {
  header: string;
  value: (row: T) => string;
}

/** The `-o, --output` option shared by every read command. */
export function outputOption(): Option {
  return new Option('-o, --output <format>', 'output format').choices([...FORMATS]).default('table');
}

const cell = printable;

/** Align rows under headers, columns separated by two spaces, no trailing spaces. */
export function renderTable(headers: string[], rows: string[][]): string {
  const all = [headers, ...rows].map((r) => r.map(cell));
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n') + '\n';
}

/** Data as JSON (2-space indent) or YAML. */
export function renderData(data: unknown, format: 'json' | 'yaml'): string {
  return format === 'json' ? JSON.stringify(data, null, 2) + '\n' : (yaml ??= requireCjs('yaml') as typeof import('yaml')).stringify(data);
}

/** A list: a table of columns, or the raw items as JSON/YAML. */
export function renderList<T>(items: T[], columns: Column<T>[], format: OutputFormat): string {
  if (format !== 'table') return renderData(items, format);
  return renderTable(
    columns.map((c) => c.header),
    items.map((it) => columns.map((c) => c.value(it))),
  );
}

/** One object: aligned "Label: value" lines, or the raw object as JSON/YAML. */
export function renderDetail(data: unknown, fields: [string, string][], format: OutputFormat): string {
  if (format !== 'table') return renderData(data, format);
  const width = Math.max(0, ...fields.map(([k]) => k.length + 1));
  return fields.map(([k, v]) => `${(k ? `${k}:` : '').padEnd(width)}  ${printable(v)}`.trimEnd()).join('\n') + '\n';
}
