// The web panel's pure logic behind the consoles, graphs, dashboard and operations page (web/src/lib/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeText, exitText } from '../../web/src/lib/live-text.js';
import { columns, formatValue, graphsFor, latest, pointsDrawn, type History } from '../../web/src/lib/metrics-data.js';
import { countByState, eventSummary, isActive, mergeOperation, operationOf, pushEvent } from '../../web/src/lib/live-data.js';
import type { Event, Operation } from '../../src/shared/api-types.js';

test('a closed console says why: the daemon reason, else what the code means', () => {
  assert.equal(closeText({ code: 4404, reason: 'instance vm1 has no running console' }), 'disconnected (instance vm1 has no running console)');
  assert.equal(closeText({ code: 1006, reason: '' }), 'disconnected (connection lost)');
  assert.equal(closeText({ code: 4999, reason: '' }), 'disconnected (code 4999)');
});

test('an exec session that ended says its exit status', () => {
  assert.equal(exitText({ code: 1000, reason: 'exit 3' }), 'exited 3');
  assert.equal(exitText({ code: 1000, reason: 'exit 0' }), 'exited 0');
  assert.equal(exitText({ code: 4409, reason: 'no such file: /bin/zsh' }), 'disconnected (no such file: /bin/zsh)');
  assert.equal(exitText({ code: 1000, reason: 'exited 3 or so' }), 'disconnected (exited 3 or so)');
});

const instance: History = {
  range: '1h',
  step: 10,
  t: [100, 110, 120, 130],
  series: { cpu: [null, 0.5, null, 1.25], memory: [null, 1024, 2048, null], diskRead: [null, null, 5, null], diskWrite: [null, null, null, 7], netRx: [null, null, null, null], netTx: [null, null, null, null] },
};
const host: History = { range: '1h', step: 10, t: [100, 110], series: { cpu: [1, 2], memory: [10, 20], memoryTotal: [100, 100], load1: [0.5, null] } };

test('graphs follow the series an answer has: four for an instance, CPU/memory/load for the host', () => {
  assert.deepEqual(graphsFor(instance).map((g) => g.label), ['CPU graph', 'Memory graph', 'Disk graph', 'Network graph']);
  assert.deepEqual(graphsFor(host).map((g) => g.label), ['CPU graph', 'Memory graph', 'Load graph']);
  // The instance's memory graph has no "total" series; the host's has both.
  assert.deepEqual(graphsFor(instance)[1]!.series.map((s) => s.key), ['memory']);
  assert.deepEqual(graphsFor(host)[1]!.series.map((s) => s.key), ['memory', 'memoryTotal']);
});

test('points drawn count the times at which any of a graph series has a value', () => {
  const g = Object.fromEntries(graphsFor(instance).map((x) => [x.id, x]));
  assert.equal(pointsDrawn(instance, g.cpu!), 2);
  assert.equal(pointsDrawn(instance, g.memory!), 2);
  assert.equal(pointsDrawn(instance, g.disk!), 2); // read at 120, write at 130
  assert.equal(pointsDrawn(instance, g.network!), 0);
  // A new sample makes the count grow (what the end-to-end test waits for).
  const more: History = { ...instance, t: [...instance.t, 140], series: { ...instance.series, cpu: [...instance.series.cpu!, 0.1] } };
  assert.equal(pointsDrawn(more, g.cpu!), 3);
});

test("uPlot columns: time first, then each series as long as t, missing values null", () => {
  const g = graphsFor(instance).find((x) => x.id === 'disk')!;
  assert.deepEqual(columns(instance, g), [[100, 110, 120, 130], [null, null, 5, null], [null, null, null, 7]]);
  const short: History = { range: '1h', step: 10, t: [1, 2, 3], series: { cpu: [0.5] } };
  assert.deepEqual(columns(short, graphsFor(short)[0]!), [[1, 2, 3], [0.5, null, null]]);
});

test('values read in their unit; the latest is the last sampled one', () => {
  assert.equal(formatValue('cores', 0.5), '0.50 cores');
  assert.equal(formatValue('cores', 12), '12.0 cores');
  assert.equal(formatValue('bytes', 1536), '1.5 KiB');
  assert.equal(formatValue('bytes/s', 3 * 1024 ** 2), '3.0 MiB/s');
  assert.equal(formatValue('load', 1.234), '1.23');
  assert.equal(formatValue('bytes', null), '—');
  assert.equal(latest(instance, 'cpu'), 1.25);
  assert.equal(latest(instance, 'memory'), 2048);
  assert.equal(latest(instance, 'netRx'), undefined);
  assert.equal(latest(instance, 'nothing'), undefined);
});

test('instances by state: most common first, ties by name', () => {
  assert.deepEqual(countByState([{ state: 'stopped' }, { state: 'running' }, { state: 'running' }, { state: 'error' }]), [
    ['running', 2],
    ['error', 1],
    ['stopped', 1],
  ]);
  assert.deepEqual(countByState([]), []);
});

const op = (id: string, createdAt: string, patch: Partial<Operation> = {}): Operation => ({ id, kind: 'instance.stop', target: 'vm1', status: 'running', progress: 0, log: [], createdAt, updatedAt: createdAt, ...patch });

test('operations merge from events: updated in place keeping the fuller log, new ones in createdAt order, capped', () => {
  const a = op('a', '2026-01-01T00:00:01Z', { log: ['one', 'two'] });
  const b = op('b', '2026-01-01T00:00:02Z');
  let list = [b, a];
  // An event carries the last log line only: the two earlier lines stay.
  list = mergeOperation(list, { ...a, progress: 50, log: ['three'] });
  assert.deepEqual(list.map((o) => o.id), ['b', 'a']);
  assert.equal(list[1]!.progress, 50);
  assert.deepEqual(list[1]!.log, ['one', 'two', 'three']);
  // A longer log (a full GET) replaces the kept one.
  list = mergeOperation(list, { ...a, log: ['one', 'two', 'three', 'four'] });
  assert.deepEqual(list[1]!.log, ['one', 'two', 'three', 'four']);
  list = mergeOperation(list, op('c', '2026-01-01T00:00:03Z'), 2);
  assert.deepEqual(list.map((o) => o.id), ['c', 'b']);
  assert.equal(isActive(op('x', 't', { status: 'pending' })), true);
  assert.equal(isActive(op('x', 't', { status: 'cancelled' })), false);
});

test('events: an operation event becomes an Operation, each event a short line, the newest 20 kept', () => {
  const ev = (type: string, data: unknown): Event => ({ type, time: '2026-01-01T00:00:00Z', target: 'vm1', data });
  const o = operationOf(ev('operation', op('a', '2026-01-01T00:00:01Z', { progress: 40 })));
  assert.equal(o?.id, 'a');
  assert.equal(operationOf(ev('operation', { id: 'x' })), undefined);
  assert.equal(operationOf(ev('instance', { state: 'running' })), undefined);
  assert.equal(eventSummary(ev('operation', op('a', 't', { progress: 40 }))), 'instance.stop running 40 %');
  assert.equal(eventSummary(ev('operation', op('a', 't', { status: 'failure', error: { code: 'Conflict', message: 'vm1 is busy' } }))), 'instance.stop failure: vm1 is busy');
  assert.equal(eventSummary(ev('instance', { state: 'stopped' })), 'state stopped');
  assert.equal(eventSummary(ev('network', { action: 'forward-created', forward: 'f1' })), 'forward-created');
  assert.equal(eventSummary(ev('image', null)), 'image');
  let list: Event[] = [];
  for (let i = 0; i < 25; i++) list = pushEvent(list, ev('instance', { state: String(i) }));
  assert.equal(list.length, 20);
  assert.deepEqual(list[0]!.data, { state: '24' });
});
