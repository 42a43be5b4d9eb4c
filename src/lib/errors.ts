/** Error codes that nimbo uses across layers; only api/ maps them to HTTP statuses. */
export type ErrorCode =
  | 'NotFound'
  | 'Conflict'
  | 'InvalidArgument'
  | 'QuotaExceeded'
  | 'TooLarge'
  | 'LengthRequired'
  | 'Forbidden'
  | 'Unauthorized'
  | 'HostCommandFailed'
  | 'Timeout'
  | 'Cancelled'
  | 'Internal';

/** A nimbo error: a code, a one-line message, and an optional cause/detail. */
export class NimboError extends Error {
  readonly code: ErrorCode;
  readonly detail?: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, detail?: Record<string, unknown>, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'NimboError';
    this.code = code;
    this.detail = detail;
  }
}

/** A host command that exited non-zero (argv, exit code and stderr kept for the user). */
export class HostCommandError extends NimboError {
  constructor(readonly argv: string[], readonly exitCode: number | null, readonly stderr: string) {
    const tail = stderr.trim().split('\n').slice(-3).join(' | ');
    super('HostCommandFailed', `${argv[0]} failed (exit ${exitCode ?? 'signal'}): ${tail || 'no output'}`, {
      argv,
      exitCode,
      stderr: stderr.slice(-4000),
    });
  }
}

/**
 * A compare-and-swap write lost the race: the key changed since it was read (or exists when it must not).
 * Code Conflict (a 409 when it escapes), but callers tell it apart from a domain conflict and retry.
 */
export class RevisionConflict extends NimboError {
  constructor(readonly key: string, readonly expected: number) {
    super('Conflict', `${key} was changed concurrently (expected revision ${expected})`, { key, expected, stale: true });
  }
}

/** True when `e` is a lost compare-and-swap (retry), not a domain conflict. */
export const isRevisionConflict = (e: unknown): e is RevisionConflict => e instanceof RevisionConflict;

/** Shorthands for the common errors. */
export const notFound = (what: string) => new NimboError('NotFound', `${what} not found`);
export const conflict = (msg: string) => new NimboError('Conflict', msg);
export const invalid = (msg: string) => new NimboError('InvalidArgument', msg);

/** Turn anything thrown into a NimboError (unknown errors become Internal). */
export function asNimboError(e: unknown): NimboError {
  if (e instanceof NimboError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new NimboError('Internal', msg, undefined, e);
}
