import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from './audit-log.js';
import { AuditIds, dayOf } from './audit-entry.js';

const base = { method: 'POST', route: '/api/v1/instances', action: 'write instance', source: '127.0.0.1', status: 202 };

function withDir(fn: (dir: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-audit-'));
  try {
    fn(join(dir, 'audit'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('ids are time-sortable and strictly increasing, even when the clock steps back', () => {
  const ids = new AuditIds();
  const a = ids.next(1000);
  const b = ids.next(1000);
  const c = ids.next(900);
  const d = ids.next(2000);
  assert.deepEqual([a, b, c, d], [...[a, b, c, d]].sort());
  assert.equal(new Set([a, b, c, d]).size, 4);
  assert.equal(a, '0000000001000-000000');
});

test('entries come back newest first, a page at a time, filtered by user and time', () => withDir((dir) => {
  let now = Date.parse('2026-12-01T10:00:00Z');
  const log = new AuditLog(dir, 90, () => now);
  for (let i = 0; i < 10; i++) {
    log.append({ ...base, user: i % 2 ? 'alice' : 'bob' });
    now += 6 * 3_600_000; // spread over several day files
  }
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  for (const f of readdirSync(dir)) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600);
  const all = log.query({ limit: 1000 });
  assert.equal(all.entries.length, 10);
  assert.deepEqual(all.entries.map((e) => e.id), all.entries.map((e) => e.id).sort().reverse());
  const p1 = log.query({ limit: 4 });
  assert.equal(p1.entries.length, 4);
  const p2 = log.query({ limit: 4, after: p1.next });
  const p3 = log.query({ limit: 4, after: p2.next });
  assert.equal(p3.next, undefined);
  assert.deepEqual([...p1.entries, ...p2.entries, ...p3.entries].map((e) => e.id), all.entries.map((e) => e.id));
  assert.ok(log.query({ user: 'alice' }).entries.every((e) => e.user === 'alice'));
  assert.equal(log.query({ user: 'alice' }).entries.length, 5);
  const since = '2026-12-01T20:00:00Z';
  const until = '2026-12-02T20:00:00Z';
  const win = log.query({ since, until });
  assert.deepEqual(win.entries.map((e) => e.time), all.entries.map((e) => e.time).filter((t) => t >= '2026-12-01T20:00:00.000Z' && t < '2026-12-02T20:00:00.000Z'));
  assert.equal(win.entries.length, 4);
}));

test('a torn last line (crash mid-write) is skipped, not fatal', () => withDir((dir) => {
  const now = Date.parse('2026-12-01T10:00:00Z');
  const log = new AuditLog(dir, 90, () => now);
  log.append({ ...base, user: 'alice' });
  appendFileSync(join(dir, '2026-12-01.jsonl'), '{"id":"1764583200000-000009","time":"2026-12-01T');
  assert.equal(log.query().entries.length, 1);
}));

test('the sweep deletes whole days older than the retention', () => withDir((dir) => {
  let now = Date.parse('2026-09-01T12:00:00Z');
  const log = new AuditLog(dir, 30, () => now);
  log.append({ ...base, user: 'old' });
  now = Date.parse('2026-09-25T12:00:00Z');
  log.append({ ...base, user: 'recent' });
  now = Date.parse('2026-10-10T12:00:00Z');
  assert.deepEqual(log.sweep(), ['2026-09-01']);
  assert.deepEqual(log.query().entries.map((e) => e.user), ['recent']);
  assert.deepEqual(readdirSync(dir), ['2026-09-25.jsonl']);
}));

test('a page from 100,000 entries is fast: newest first and paged by id without parsing every line', () => withDir((dir) => {
  const start = Date.parse('2026-12-01T00:00:00Z');
  const log = new AuditLog(dir, 90, () => start + 100_000 * 500);
  const ids = new AuditIds();
  const byDay = new Map<string, string[]>();
  for (let i = 0; i < 100_000; i++) {
    const ms = start + i * 500; // ~14 hours a day file: 100k entries in one or two files
    const id = ids.next(ms);
    const line = JSON.stringify({ id, time: new Date(ms).toISOString(), user: i % 100 === 0 ? 'rare' : 'busy', ...base });
    (byDay.get(dayOf(ms)) ?? byDay.set(dayOf(ms), []).get(dayOf(ms))!).push(line);
  }
  for (const [day, lines] of byDay) writeFileSync(join(dir, `${day}.jsonl`), lines.join('\n') + '\n');
  const t0 = performance.now();
  const page = log.query({ limit: 100 });
  const deep = log.query({ limit: 100, user: 'rare', after: page.next });
  const ms = performance.now() - t0;
  assert.equal(page.entries.length, 100);
  assert.equal(deep.entries.length, 100);
  assert.ok(deep.entries.every((e) => e.user === 'rare' && e.id < page.next!));
  assert.ok(ms < 3000, `two queries over 100k entries took ${ms.toFixed(0)} ms`);
}));
