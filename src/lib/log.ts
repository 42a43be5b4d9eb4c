import pino from 'pino';
import { chmodSync, mkdirSync } from 'node:fs';
import { ensurePrivateFile, PRIVATE_DIR_MODE } from './file-modes.js';
import { join } from 'node:path';

/** The structured logger type used everywhere. */
export type Logger = pino.Logger;

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
// Fields every line has (or that say nothing to a reader at a terminal): shown in the prefix or dropped.
const SKIP = new Set(['level', 'time', 'msg', 'svc', 'pid', 'hostname']);

function value(v: unknown): string {
  if (v && typeof v === 'object' && 'message' in v && typeof (v as { message: unknown }).message === 'string') v = (v as { message: string }).message; // pino's err
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  return /^[^\s"=]*$/.test(s) && s !== '' ? s : JSON.stringify(s);
}

/** One pino JSON line as "2026-12-04 20:05:33.123 INFO  message key=value ..." (local terminal view, UTC). */
export function formatLogLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const t = typeof o.time === 'number' || typeof o.time === 'string' ? new Date(o.time) : new Date();
  const time = Number.isNaN(t.getTime()) ? String(o.time) : t.toISOString().replace('T', ' ').replace('Z', '');
  const level = (LEVELS[Number(o.level)] ?? String(o.level)).padEnd(5);
  const kv = Object.entries(o)
    .filter(([k, v]) => !SKIP.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${value(v)}`);
  return `${[time, level, typeof o.msg === 'string' ? o.msg : '', ...kv].filter(Boolean).join(' ')}\n`;
}

/** A pino destination that writes formatLogLine's text to `out` (a terminal). */
export function prettyStream(out: { write(s: string): unknown }): { write(line: string): void } {
  return { write: (line: string) => void out.write(formatLogLine(line.trimEnd())) };
}

/**
 * Logger to stderr and, when a state dir is given, to DIR/logs/nimbod.log. On a terminal stderr gets readable
 * lines; otherwise (journald, pipes) and in the file it stays one JSON object per line, with ISO 8601 times.
 */
export function createLogger(stateDir?: string, level = process.env.NIMBO_LOG_LEVEL ?? 'info', tty = process.stderr.isTTY === true): Logger {
  const streams: pino.StreamEntry[] = [{ level: level as pino.Level, stream: tty ? prettyStream(process.stderr) : process.stderr }];
  if (stateDir) {
    mkdirSync(join(stateDir, 'logs'), { recursive: true, mode: PRIVATE_DIR_MODE });
    chmodSync(join(stateDir, 'logs'), PRIVATE_DIR_MODE);
    const file = join(stateDir, 'logs', 'nimbod.log');
    ensurePrivateFile(file); // the log names instances, addresses and requests: root's alone
    streams.push({ level: level as pino.Level, stream: pino.destination({ dest: file, mkdir: true, sync: false }) });
  }
  return pino({ level, base: { svc: 'nimbod' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.multistream(streams));
}

/** A logger that drops everything (unit tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
