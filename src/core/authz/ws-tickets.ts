// WebSocket tickets: browsers cannot set headers on a WebSocket upgrade, and a token in a URL ends up in
// logs and history. An authenticated caller trades its credential for a ticket (POST /auth/ticket) that
// opens one WebSocket, once, within 30 seconds, as the same principal with the same token scope.
import { randomBytes } from 'node:crypto';
import type { Principal } from '../identity/principal.js';

/** How long a ticket stays redeemable. */
export const TICKET_TTL_MS = 30_000;
/** At most this many tickets wait at once; the oldest are dropped first (they would expire anyway). */
const MAX_WAITING = 10_000;

/** A ticket as handed to the caller. */
export interface IssuedTicket {
  ticket: string;
  expiresAt: string;
}

/** Single-use, short-lived WebSocket tickets, kept in the daemon's memory only (a restart voids them). */
export class WsTickets {
  private readonly waiting = new Map<string, { principal: Principal; expires: number }>();

  constructor(private readonly ttlMs = TICKET_TTL_MS, private readonly now: () => number = Date.now) {}

  /** A new ticket for `principal` (256 random bits, URL-safe). */
  issue(principal: Principal): IssuedTicket {
    this.prune();
    while (this.waiting.size >= MAX_WAITING) this.waiting.delete(this.waiting.keys().next().value as string);
    const ticket = `nwt_${randomBytes(32).toString('base64url')}`;
    const expires = this.now() + this.ttlMs;
    // The ticket stands for the same user and the same narrowing; only how it was proved changes.
    this.waiting.set(ticket, { principal: { ...principal, via: 'ticket' }, expires });
    return { ticket, expiresAt: new Date(expires).toISOString() };
  }

  /** The ticket's principal, once: a second redeem, an unknown or an expired ticket gives undefined. */
  redeem(ticket: string): Principal | undefined {
    const t = this.waiting.get(ticket);
    if (!t) return undefined;
    this.waiting.delete(ticket);
    return t.expires > this.now() ? t.principal : undefined;
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
