// WebSocket tickets: browsers cannot set headers on a WebSocket upgrade, and a token in a URL ends up in
// logs and history. An authenticated caller trades its credential for a ticket (POST /auth/ticket) that
// opens one WebSocket, once, within 60 seconds, as the same principal with the same token scope, and only
// the WebSocket it was asked for: one instance's consoles (console, exec, vnc) or, without an instance,
// the events stream. The API's edge (api/ws-ticket-auth.ts) also binds it to the session or token that
// got it: a ticket is worth nothing once what it was traded for has ended.
import { randomBytes } from 'node:crypto';
import type { Principal } from '../identity/principal.js';

/** How long a ticket stays redeemable. */
export const TICKET_TTL_MS = 60_000;
/** At most this many tickets wait at once; the oldest are dropped first (they would expire anyway). */
const MAX_WAITING = 10_000;

/** A ticket as handed to the caller. */
export interface IssuedTicket {
  ticket: string;
  expiresAt: string;
  /** The instance whose WebSockets the ticket opens (absent: the events stream only). */
  instance?: string;
  /** The project the instance is looked up in. */
  project: string;
}

/** What a ticket is good for: the events stream of `project`, or one instance's WebSockets. */
export interface TicketScope {
  project: string;
  instance?: string;
}

/** The principal a ticket stands for, or why it was refused (a sentence for a 401). */
export type Redeemed = { principal: Principal } | { refused: string };

/** Single-use, short-lived WebSocket tickets, kept in the daemon's memory only (a restart voids them). */
export class WsTickets {
  private readonly waiting = new Map<string, { principal: Principal; scope: TicketScope; expires: number }>();

  constructor(private readonly ttlMs = TICKET_TTL_MS, private readonly now: () => number = Date.now) {}

  /** A new ticket for `principal` (256 random bits, URL-safe) that opens only what `scope` names. */
  issue(principal: Principal, scope: TicketScope): IssuedTicket {
    this.prune();
    while (this.waiting.size >= MAX_WAITING) this.waiting.delete(this.waiting.keys().next().value as string);
    const ticket = `nwt_${randomBytes(32).toString('base64url')}`;
    const expires = this.now() + this.ttlMs;
    // The ticket stands for the same user and the same narrowing; only how it was proved changes.
    this.waiting.set(ticket, { principal: { ...principal, via: 'ticket' }, scope: { ...scope }, expires });
    return { ticket, expiresAt: new Date(expires).toISOString(), project: scope.project, ...(scope.instance ? { instance: scope.instance } : {}) };
  }

  /**
   * Spend `ticket` on a WebSocket to `target` (the route's project and :name, none for /events): its
   * principal, or why not. Any attempt spends it, a refused one too, so a ticket cannot be probed. A target
   * without a project (no ?project= on the upgrade) is in the project `defaultOf` gives for the principal.
   */
  redeem(ticket: string, asked: { project?: string; instance?: string }, defaultOf: (p: Principal) => string): Redeemed {
    const t = this.waiting.get(ticket);
    if (!t) return { refused: 'the ticket is unknown or was used already (a ticket opens one WebSocket, once): get a new one from POST /api/v1/auth/ticket' };
    this.waiting.delete(ticket);
    if (t.expires <= this.now()) return { refused: `the ticket expired (tickets last ${this.ttlMs / 1000} s): get a new one from POST /api/v1/auth/ticket` };
    const want = t.scope;
    const target: TicketScope = { project: asked.project ?? defaultOf(t.principal), ...(asked.instance !== undefined ? { instance: asked.instance } : {}) };
    if (want.instance === undefined && target.instance !== undefined) return { refused: `the ticket was issued for the events stream only, not for instance ${target.instance}: ask POST /api/v1/auth/ticket with {"instance": "${target.instance}"}` };
    if (want.instance !== undefined && target.instance === undefined) return { refused: `the ticket was issued for instance ${want.instance}, not for the events stream: ask POST /api/v1/auth/ticket without an instance` };
    if (want.instance !== target.instance || want.project !== target.project) {
      return { refused: `the ticket was issued for ${describe(want)}, not for ${describe(target)}` };
    }
    return { principal: t.principal };
  }

  /** How many tickets wait (for tests). */
  get size(): number {
    return this.waiting.size;
  }

  private prune(): void {
    const now = this.now();
    for (const [k, t] of this.waiting) if (t.expires <= now) this.waiting.delete(k);
  }
}

function describe(s: TicketScope): string {
  return s.instance === undefined ? `the events stream of project ${s.project}` : `instance ${s.instance} in project ${s.project}`;
}
