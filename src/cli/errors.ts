/** Errors of the nimbo CLI and how they reach the user: one line, never a stack (unless NIMBO_DEBUG=1). */

/** Why a CliError happened, when the caller may want to react (retry, hint). */
export type CliErrorKind = 'api' | 'unreachable' | 'usage' | 'operation' | 'timeout';

/**
 * Exit codes of `nimbo`, so scripts can react without parsing messages (listed in the help epilogue
 * and docs/user-guide.md).
 */
export const EXIT = { failure: 1, usage: 2, notFound: 3, conflict: 4, unreachable: 5, auth: 6 } as const;

/** The help epilogue line that documents EXIT. */
export const EXIT_HELP =
  'Exit codes: 0 ok, 1 failure, 2 invalid input or usage, 3 not found, 4 conflict (wrong state, name taken), 5 nimbod unreachable, 6 authentication or permission refused.';

/** The exit code that fits an error's kind, HTTP status and server code (bad arguments exit EXIT.usage via commander). */
export function exitCodeFor(kind: CliErrorKind, status?: number, code?: string): number {
  if (kind === 'unreachable') return EXIT.unreachable;
  if (status === 401 || code === 'Unauthorized' || code === 'Forbidden' || (status === 403 && code === undefined)) return EXIT.auth;
  if (status === 404 || code === 'NotFound') return EXIT.notFound;
  if (status === 409 || code === 'Conflict') return EXIT.conflict;
  if (status === 400 || status === 422 || code === 'InvalidArgument') return EXIT.usage;
  return EXIT.failure;
}

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
    this.exitCode = opts.exitCode ?? exitCodeFor(this.kind, opts.status, opts.code);
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
