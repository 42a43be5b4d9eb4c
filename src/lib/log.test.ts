import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { formatLogLine, prettyStream } from './log.js';

test('a pino line becomes time, level, message and key=value pairs', () => {
  const line = JSON.stringify({ level: 40, time: '2026-12-04T20:05:33.123Z', svc: 'nimbod', pid: 1, hostname: 'h', msg: 'snapshot schedule failed', instance: 'vm1', err: { type: 'Error', message: 'disk full', stack: 'x' }, n: 3, note: 'two words' });
  assert.equal(formatLogLine(line), '2026-12-04 20:05:33.123 WARN  snapshot schedule failed instance=vm1 err="disk full" n=3 note="two words"\n');
  assert.equal(formatLogLine(JSON.stringify({ level: 30, time: 1764878733123, msg: 'up', opts: { a: 1 } })), '2025-12-04 20:05:33.123 INFO  up opts="{\\"a\\":1}"\n');
  assert.equal(formatLogLine('not json'), 'not json\n');
});

test('through pino: readable lines on the pretty stream, JSON with ISO times otherwise', () => {
  const text: string[] = [];
  const sink = { write: (s: string) => text.push(s) };
  pino({ base: { svc: 'nimbod' }, timestamp: pino.stdTimeFunctions.isoTime }, prettyStream(sink)).info({ addr: '127.0.0.1:8443' }, 'listening');
  assert.match(text[0]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} INFO  listening addr=127\.0\.0\.1:8443\n$/);
  const raw: string[] = [];
  pino({ timestamp: pino.stdTimeFunctions.isoTime }, { write: (s: string) => raw.push(s) }).info('x');
  assert.match(JSON.parse(raw[0]!).time, /^\d{4}-\d\d-\d\dT/);
});
