// One audit record, and the time-sortable ids that order them. Pure: no I/O here.

/** Who, what, from where, when and with which result: one mutating API call or login attempt. */
export interface AuditEntry {
  /** Time-sortable id (`<13-digit ms>-<6-digit sequence>`); string order is time order. */
  id: string;
  /** ISO time the answer was sent. */
  time: string;
  /** The principal's user name; `anonymous` when the request carried no valid credential. */
  user: string;
  userId?: string;
  /** How the caller proved itself: token, session or ticket. */
  via?: string;
  /** The API token's id (never its secret). */
  tokenId?: string;
  /** A short hash of the session id (the id itself is a credential). */
  session?: string;
  method: string;
  /** The route pattern, e.g. /api/v1/instances/:name; `(unmatched)` when no route matched. */
  route: string;
  /** The route's path parameters (names of targets). */
  params?: Record<string, string>;
  /** `write instance`, `login`, ... (from the route's access declaration). */
  action: string;
  /** The project the request ran in, when it was project-scoped. */
  project?: string;
  /** For login attempts: the user name that was tried (never the password). */
  loginName?: string;
  /** The source address of the request. */
  source: string;
  status: number;
  /** The error code of a refused or failed call (NotFound, Forbidden, ...). */
  error?: string;
  /** Milliseconds the API took to answer. */
  ms?: number;
}

/** The filters of an audit query (all optional); results are newest first. */
export interface AuditQuery {
  user?: string;
  /** ISO time: only entries at or after it. */
  since?: string;
  /** ISO time: only entries before it. */
  until?: string;
  limit?: number;
  /** The `next` cursor of the previous page: only entries older than it. */
  after?: string;
}

/** A page of entries, newest first, and the cursor of the next page. */
export interface AuditPage {
  entries: AuditEntry[];
  next?: string;
}

const ID = /^(\d{13})-(\d{6})$/;

/** Makes strictly increasing time-sortable ids, even when the clock steps back. */
export class AuditIds {
  private lastMs = 0;
  private seq = 0;
  /** The next id for time `ms`. */
  next(ms: number): string {
    if (ms > this.lastMs) {
      this.lastMs = ms;
      this.seq = 0;
    } else this.seq++;
    if (this.seq > 999999) {
      this.lastMs++;
      this.seq = 0;
    }
    return `${String(this.lastMs).padStart(13, '0')}-${String(this.seq).padStart(6, '0')}`;
  }
}

/** Whether `s` is an audit id (the only shape `after` accepts). */
export function isAuditId(s: string): boolean {
  return ID.test(s);
}

/** The time in ms an audit id was made at. */
export function auditIdMs(id: string): number {
  return Number(id.slice(0, 13));
}

/** The UTC day (YYYY-MM-DD) of a time in ms: audit files hold one day each. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
