// The login brute-force brake: after a few failures for one user name, or from one address, each
// further attempt must wait, 1 s doubling up to 60 s; a success clears the user name's count.

/** The route of password logins (the identity routes); the audit hook and this brake look for it. */
export const LOGIN_ROUTE = '/api/v1/auth/login';

/** Shape of the brake. */
export interface LoginThrottleOptions {
  /** Failures allowed before the delay starts (default 5). */
  freeFailures: number;
  /** First delay and its ceiling, ms (default 1 s and 60 s). */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Failures older than this are forgotten (default 15 min). */
  forgetAfterMs: number;
}

/** Defaults of the brake. */
export const LOGIN_THROTTLE_DEFAULTS: LoginThrottleOptions = { freeFailures: 5, baseDelayMs: 1000, maxDelayMs: 60_000, forgetAfterMs: 15 * 60_000 };

interface Count {
  failures: number;
  last: number;
  lockedUntil: number;
}

/** Whether a login may be tried now, and if not for how long it must wait. */
export type LoginCheck = { allowed: true } | { allowed: false; retryAfterS: number };

/** Counts failed logins per user name and per address; call check before, failure/success after. */
export class LoginThrottle {
  private counts = new Map<string, Count>();
  private o: LoginThrottleOptions;

  constructor(opts: Partial<LoginThrottleOptions> = {}, private now: () => number = Date.now) {
    this.o = { ...LOGIN_THROTTLE_DEFAULTS, ...opts };
  }

  /** May `name` log in from `ip` now? Refused while either is locked out (answer 429 with Retry-After). */
  check(name: string, ip: string): LoginCheck {
    const t = this.now();
    const until = Math.max(this.lockedUntil(`u:${name.toLowerCase()}`, t), this.lockedUntil(`a:${ip}`, t));
    return until > t ? { allowed: false, retryAfterS: Math.ceil((until - t) / 1000) } : { allowed: true };
  }

  /** A failed login of `name` from `ip`. */
  failure(name: string, ip: string): void {
    const t = this.now();
    this.bump(`u:${name.toLowerCase()}`, t);
    this.bump(`a:${ip}`, t);
    if (this.counts.size > 50_000) this.forgetOld(t);
  }

  /** A successful login: the user name's failures are cleared (the address's stay: one valid account must not unlock guessing others). */
  success(name: string, _ip: string): void {
    this.counts.delete(`u:${name.toLowerCase()}`);
  }

  private lockedUntil(key: string, t: number): number {
    const c = this.counts.get(key);
    if (!c) return 0;
    if (t - c.last > this.o.forgetAfterMs) {
      this.counts.delete(key);
      return 0;
    }
    return c.lockedUntil;
  }

  private bump(key: string, t: number): void {
    let c = this.counts.get(key);
    if (!c || t - c.last > this.o.forgetAfterMs) c = { failures: 0, last: t, lockedUntil: 0 };
    c.failures++;
    c.last = t;
    const over = c.failures - this.o.freeFailures;
    if (over > 0) c.lockedUntil = t + Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** Math.min(over - 1, 30));
    this.counts.set(key, c);
  }

  private forgetOld(t: number): void {
    for (const [k, c] of this.counts) if (t - c.last > this.o.forgetAfterMs) this.counts.delete(k);
  }
}
