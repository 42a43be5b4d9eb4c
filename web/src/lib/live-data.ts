// Dashboard and operations data (pure): counts by state, operations merged from events, event lines.
import type { Event, Operation } from '../../../src/shared/api-types.js';

/** How many items are in each state, most common first (ties by name). */
export function countByState(items: { state: string }[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const i of items) counts.set(i.state, (counts.get(i.state) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** Whether an operation may still change (and be cancelled). */
export function isActive(op: Pick<Operation, 'status'>): boolean {
  return op.status === 'pending' || op.status === 'running';
}

/**
 * `list` with `op` in it: replaced in place when known (keeping the fuller log we already have, since an event
 * carries only the last line), else added in createdAt order (newest first); at most `max` kept.
 */
export function mergeOperation(list: Operation[], op: Operation, max = Infinity): Operation[] {
  const i = list.findIndex((o) => o.id === op.id);
  if (i >= 0) {
    const old = list[i]!;
    const log = op.log.length >= old.log.length ? op.log : [...old.log.filter((l) => !op.log.includes(l)), ...op.log];
    const out = list.slice();
    out[i] = { ...op, log };
    return out;
  }
  const out = [op, ...list].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return out.slice(0, max);
}

/** An Operation from an operation event's data, or undefined when it is not one. */
export function operationOf(ev: Event): Operation | undefined {
  if (ev.type !== 'operation') return undefined;
  const d = ev.data as Partial<Operation> | null;
  if (!d || typeof d.id !== 'string' || typeof d.status !== 'string' || typeof d.createdAt !== 'string') return undefined;
  return { log: [], progress: 0, kind: '', target: ev.target, updatedAt: ev.time, ...d } as Operation;
}

/** One line saying what an event was: "running 40 %", "state stopped", "building". */
export function eventSummary(ev: Event): string {
  const d = (ev.data ?? {}) as Record<string, unknown>;
  if (ev.type === 'operation') {
    const op = operationOf(ev);
    if (!op) return 'operation';
    return `${op.kind} ${op.status}${op.status === 'running' ? ` ${op.progress} %` : ''}${op.error ? `: ${op.error.message}` : ''}`;
  }
  const parts: string[] = [];
  for (const k of ['action', 'state', 'status']) if (typeof d[k] === 'string') parts.push(k === 'action' ? String(d[k]) : `${k} ${String(d[k])}`);
  return parts.join(', ') || ev.type;
}

/** `list` with `item` first, at most `max` kept. */
export function pushEvent<T>(list: T[], item: T, max = 20): T[] {
  return [item, ...list].slice(0, max);
}
