import pino from 'pino';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** The structured logger type used everywhere. */
export type Logger = pino.Logger;

/** Logger to stderr and, when a state dir is given, to DIR/logs/nimbod.log. */
export function createLogger(stateDir?: string, level = process.env.NIMBO_LOG_LEVEL ?? 'info'): Logger {
  const streams: pino.StreamEntry[] = [{ level: level as pino.Level, stream: process.stderr }];
  if (stateDir) {
    mkdirSync(join(stateDir, 'logs'), { recursive: true });
    streams.push({ level: level as pino.Level, stream: pino.destination({ dest: join(stateDir, 'logs', 'nimbod.log'), mkdir: true, sync: false }) });
  }
  return pino({ level, base: { svc: 'nimbod' } }, pino.multistream(streams));
}

/** A logger that drops everything (unit tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
