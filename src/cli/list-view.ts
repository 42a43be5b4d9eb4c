/** `--columns`, `--filter` and `--no-header` of the list commands: pure selection, filtering and rendering. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { CliError, EXIT } from './errors.js';
import { renderData, renderTable, type Column, type OutputFormat } from './output.js';

/** How a filter key reads an item: one value, several (any may match), or none. */
export type FilterKeys<T> = Record<string, (item: T) => string | readonly string[] | undefined>;

/** A parsed `--filter`: KEY=VALUE, or label.KEY=VALUE (also written label=KEY=VALUE). */
export interface Filter {
  key: string;
  /** For label filters: the label's name. */
  label?: string;
  value: string;
}

/** Options of a list command as commander parses them. */
export interface ListOptions {
  columns?: string;
  filter?: string[];
  header?: boolean;
  output?: OutputFormat;
}

/** The --columns name of a column: its header in lower case, spaces as dashes ("ATTACHED TO" → attached-to). */
export function columnName(c: { header: string }): string {
  return c.header.toLowerCase().replace(/\s+/g, '-');
}

/** The columns `spec` names ("name,state"), in its order; all columns when spec is undefined. */
export function selectColumns<T>(columns: Column<T>[], spec: string | undefined): Column<T>[] {
  if (spec === undefined) return columns;
  const names = spec.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const known = columns.map((c) => columnName(c));
  if (names.length === 0) throw new CliError(`--columns needs at least one of: ${known.join(', ')}`, { exitCode: EXIT.usage });
  return names.map((n) => {
    const i = known.indexOf(n);
    if (i < 0) throw new CliError(`unknown column "${n}"; known columns: ${known.join(', ')}`, { exitCode: EXIT.usage });
    return columns[i]!;
  });
}

/** Parse --filter values against the keys a list knows ("label" is accepted when `labels` is true). */
export function parseFilters(specs: readonly string[] | undefined, keys: readonly string[], labels = false): Filter[] {
  const allowed = [...keys, ...(labels ? ['label.KEY'] : [])].join(', ');
  return (specs ?? []).map((spec) => {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new CliError(`--filter "${spec}" must be KEY=VALUE; keys: ${allowed}`, { exitCode: EXIT.usage });
    const key = spec.slice(0, eq).trim().toLowerCase();
    const value = spec.slice(eq + 1);
    if (labels && (key === 'label' || key.startsWith('label.'))) {
      // label.k=v, or label=k=v for shells and scripts that prefer one '=' per word.
      const [label, v] = key === 'label' ? [value.slice(0, value.indexOf('=')), value.slice(value.indexOf('=') + 1)] : [spec.slice(6, eq), value];
      if (!label || (key === 'label' && !value.includes('='))) throw new CliError(`--filter "${spec}" must be label.KEY=VALUE (or label=KEY=VALUE)`, { exitCode: EXIT.usage });
      return { key: 'label', label, value: v };
    }
    if (!keys.includes(key)) throw new CliError(`unknown filter key "${key}"; keys: ${allowed}`, { exitCode: EXIT.usage });
    return { key, value };
  });
}

/**
 * Whether an item passes every filter: filters on different keys must all match, filters on the same
 * key (or the same label) match when any does. A value is compared exactly; a key with several values
 * (network) matches when any of them does.
 */
export function matchFilters<T>(item: T, filters: readonly Filter[], keys: FilterKeys<T>): boolean {
  const groups = new Map<string, Filter[]>();
  for (const f of filters) {
    const g = f.key === 'label' ? `label.${f.label}` : f.key;
    groups.set(g, [...(groups.get(g) ?? []), f]);
  }
  for (const group of groups.values()) {
    const ok = group.some((f) => {
      const got = f.key === 'label' ? labelsOf(item)[f.label!] : keys[f.key]?.(item);
      return Array.isArray(got) ? got.includes(f.value) : got === f.value;
    });
    if (!ok) return false;
  }
  return true;
}

function labelsOf(item: unknown): Record<string, string> {
  const l = (item as { labels?: unknown }).labels;
  return l && typeof l === 'object' ? (l as Record<string, string>) : {};
}

/** Rows aligned as renderTable does, with or without the header line. */
export function renderRows(headers: string[], rows: string[][], header = true): string {
  if (header) return renderTable(headers, rows);
  if (rows.length === 0) return '';
  // Blank headers take no width, so the columns fit the rows alone; drop that blank first line.
  return renderTable(headers.map(() => ''), rows).split('\n').slice(1).join('\n');
}

/**
 * A list after --filter, as a table of the --columns (with or without header) or as JSON/YAML
 * (whole objects: --columns and --no-header shape the table only).
 */
export function renderFilteredList<T>(items: T[], columns: Column<T>[], keys: FilterKeys<T>, o: ListOptions, labels = false): string {
  const filters = parseFilters(o.filter, Object.keys(keys), labels);
  const cols = selectColumns(columns, o.columns);
  const shown = items.filter((it) => matchFilters(it, filters, keys));
  const format = o.output ?? 'table';
  if (format !== 'table') return renderData(shown, format);
  return renderRows(cols.map((c) => c.header), shown.map((it) => cols.map((c) => c.value(it))), o.header !== false);
}

/** Add --columns, --filter (repeatable) and --no-header to a list command; `keys` and `columns` go into the help. */
export function withListOptions(cmd: Command, columns: readonly Column<never>[], keys: readonly string[], labels = false): Command {
  const names = columns.map((c) => columnName(c)).join(',');
  const filterKeys = [...keys, ...(labels ? ['label.KEY'] : [])].join(', ');
  // Checked as they are parsed, so a bad name exits 2 before any request.
  const check = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      throw new InvalidArgumentError(e instanceof Error ? e.message : String(e));
    }
  };
  return cmd
    .addOption(
      new Option('--columns <list>', `table columns to show, in order (of: ${names})`).argParser((v: string) => {
        check(() => selectColumns(columns as Column<unknown>[], v));
        return v;
      }),
    )
    .addOption(
      new Option('--filter <key=value>', `only items where KEY is VALUE (repeatable: different keys must all match, a repeated key any; keys: ${filterKeys})`).argParser(
        (v: string, prev: string[] | undefined) => {
          check(() => parseFilters([v], keys, labels));
          return [...(prev ?? []), v];
        },
      ),
    )
    .option('--no-header', 'print the table without its header line');
}
