// The graphs' data (pure): which graphs a history answer feeds, their series in uPlot's column layout, how many
// points each draws, and how their values read. No DOM, no uPlot: the component draws what this computes.
import { bytes } from './format.js';

/** A history answer as GET /instances/{name}/metrics and /host/metrics give it (series differ by kind). */
export interface History {
  range: string;
  step: number;
  t: number[];
  series: Record<string, (number | null)[] | undefined>;
}

/** How a graph's values read. */
export type Unit = 'cores' | 'bytes' | 'bytes/s' | 'load';

/** One graph: its title, accessible label, unit and the series it draws. */
export interface GraphSpec {
  id: string;
  title: string;
  label: string;
  unit: Unit;
  series: { key: string; name: string; color: string }[];
}

/** Every graph the panel knows; a graph shows when the answer has at least one of its series. */
export const GRAPHS: GraphSpec[] = [
  { id: 'cpu', title: 'CPU', label: 'CPU graph', unit: 'cores', series: [{ key: 'cpu', name: 'CPU', color: '#1f5fbf' }] },
  {
    id: 'memory',
    title: 'Memory',
    label: 'Memory graph',
    unit: 'bytes',
    series: [
      { key: 'memory', name: 'used', color: '#1e6b34' },
      { key: 'memoryTotal', name: 'total', color: '#4d5b6b' },
    ],
  },
  {
    id: 'disk',
    title: 'Disk',
    label: 'Disk graph',
    unit: 'bytes/s',
    series: [
      { key: 'diskRead', name: 'read', color: '#1f5fbf' },
      { key: 'diskWrite', name: 'write', color: '#b3261e' },
    ],
  },
  {
    id: 'network',
    title: 'Network',
    label: 'Network graph',
    unit: 'bytes/s',
    series: [
      { key: 'netRx', name: 'received', color: '#1e6b34' },
      { key: 'netTx', name: 'sent', color: '#8a5300' },
    ],
  },
  { id: 'load', title: 'Load', label: 'Load graph', unit: 'load', series: [{ key: 'load1', name: 'load (1 min)', color: '#6a3fa0' }] },
];

/** The graphs `h` can draw, each with only the series `h` has. */
export function graphsFor(h: History): GraphSpec[] {
  return GRAPHS.map((g) => ({ ...g, series: g.series.filter((s) => Array.isArray(h.series[s.key])) })).filter((g) => g.series.length > 0);
}

/** uPlot's columns for graph `g`: [t, series...], each series as long as t (missing values null). */
export function columns(h: History, g: GraphSpec): [number[], ...(number | null)[][]] {
  const n = h.t.length;
  return [h.t, ...g.series.map((s) => Array.from({ length: n }, (_, i) => h.series[s.key]?.[i] ?? null))];
}

/** How many points graph `g` draws: the times at which at least one of its series has a value. */
export function pointsDrawn(h: History, g: GraphSpec): number {
  let n = 0;
  for (let i = 0; i < h.t.length; i++) if (g.series.some((s) => typeof h.series[s.key]?.[i] === 'number')) n++;
  return n;
}

/** A value as its axis and legend show it. */
export function formatValue(unit: Unit, v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  switch (unit) {
    case 'cores':
      return `${v < 10 ? v.toFixed(2) : v.toFixed(1)} cores`;
    case 'bytes':
      return bytes(v);
    case 'bytes/s':
      return `${bytes(v)}/s`;
    case 'load':
      return v.toFixed(2);
  }
}

/** The latest value of a series (the last non-null), for the graph's heading. */
export function latest(h: History, key: string): number | undefined {
  const s = h.series[key];
  if (!s) return undefined;
  for (let i = s.length - 1; i >= 0; i--) if (typeof s[i] === 'number') return s[i] as number;
  return undefined;
}
