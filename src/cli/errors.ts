/** Errors of the nimbo CLI and how they reach the user: one line, never a stack (unless NIMBO_DEBUG=1). */

/** Why a CliError happened, when the caller may want to react (retry, hint). */
export type CliErrorKind = 'api' | 'unreachable' | 'usage' | 'operation' | 'timeout';

/** An error meant for the user: `message` is one clear line. */
export class CliError extends Error {
  readonly kind: CliErrorKind;
  /** The server's error code (NotFound, Conflict, ...) when the API answered with one. */
  readonly code?: string;
  /** The HTTP status when the API answered. */
  readonly status?: number;
  /** The process exit code to use. */
  readonly exitCode: number;
  constructor(message: string, opts: { kind?: CliErrorKind; code?: string; status?: number; exitCode?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CliError';
    this.kind = opts.kind ?? 'usage';
    this.code = opts.code;
    this.status = opts.status;
    this.exitCode = opts.exitCode ?? 1;
  }
}

/** Squash a message to a single line (the CLI prints errors as one line). */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** Print `nimbo: error: MESSAGE` for anything thrown and return the exit code to use. */
export function reportError(e: unknown, write: (s: string) => void = (s) => process.stderr.write(s)): number {
  const debug = process.env.NIMBO_DEBUG === '1';
  const msg = e instanceof Error ? e.message : String(e);
  write(`nimbo: error: ${oneLine(msg) || 'unknown error'}\n`);
  if (debug && e instanceof Error && e.stack) write(`${e.stack}\n`);
  if (debug && e instanceof Error && e.cause !== undefined) write(`caused by: ${e.cause instanceof Error ? e.cause.stack : String(e.cause)}\n`);
  return e instanceof CliError ? e.exitCode : 1;
}
