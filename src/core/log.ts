import pino from 'pino';
import { chmodSync, mkdirSync } from 'node:fs';
import { ensurePrivateFile, PRIVATE_DIR_MODE } from './state-modes.js';
import { join } from 'node:path';

/** The structured logger type used everywhere. */
export type Logger = pino.Logger;

/** Logger to stderr and, when a state dir is given, to DIR/logs/nimbod.log. */
export function createLogger(stateDir?: string, level = process.env.NIMBO_LOG_LEVEL ?? 'info'): Logger {
  const streams: pino.StreamEntry[] = [{ level: level as pino.Level, stream: process.stderr }];
  if (stateDir) {
    mkdirSync(join(stateDir, 'logs'), { recursive: true, mode: PRIVATE_DIR_MODE });
    chmodSync(join(stateDir, 'logs'), PRIVATE_DIR_MODE);
    const file = join(stateDir, 'logs', 'nimbod.log');
    ensurePrivateFile(file); // the log names instances, addresses and requests: root's alone
    streams.push({ level: level as pino.Level, stream: pino.destination({ dest: file, mkdir: true, sync: false }) });
  }
  return pino({ level, base: { svc: 'nimbod' } }, pino.multistream(streams));
}

/** A logger that drops everything (unit tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
