// Token buckets, in memory, keyed by caller (token, session or user) and by source address. Pure but for
// the clock, which is injected: tests step time by hand.

/** One bucket's shape: `burst` requests at once, refilled at `perSecond`. */
export interface BucketLimit {
  burst: number;
  perSecond: number;
}

/** Rate limits of the API (daemon config `rateLimits`). */
export interface RateLimits {
  /** Per API token, session or user (absent: no limit). */
  perCaller?: BucketLimit;
  /** Per source address, counted before authentication so floods without a credential are limited too (absent: no limit). */
  perAddress?: BucketLimit;
}


/** The answer of a take: allowed or not, and what the RateLimit headers say. */
export interface Take {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the bucket is full again (RateLimit-Reset). */
  resetS: number;
  /** Seconds until one request is allowed again (Retry-After), when refused. */
  retryAfterS: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** A set of token buckets with one limit. */
export class RateLimiter {
  private buckets = new Map<string, Bucket>();

  constructor(
    private limit: BucketLimit,
    private now: () => number = Date.now,
    /** Above this many buckets, the full ones are dropped (a full bucket is the same as none). */
    private maxBuckets = 10_000,
  ) {
    if (!(limit.burst >= 1 && limit.perSecond > 0)) throw new Error('a rate limit needs burst >= 1 and perSecond > 0');
  }

  /** Take one token from `key`'s bucket. */
  take(key: string): Take {
    const t = this.now();
    const { burst, perSecond } = this.limit;
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxBuckets) this.prune(t);
      b = { tokens: burst, at: t };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * perSecond);
    b.at = t;
    const allowed = b.tokens >= 1;
    if (allowed) b.tokens -= 1;
    return {
      allowed,
      limit: burst,
      remaining: Math.floor(b.tokens),
      resetS: Math.ceil((burst - b.tokens) / perSecond),
      retryAfterS: allowed ? 0 : Math.max(1, Math.ceil((1 - b.tokens) / perSecond)),
    };
  }

  /** How many buckets are kept (for tests). */
  size(): number {
    return this.buckets.size;
  }

  private prune(t: number): void {
    const { burst, perSecond } = this.limit;
    for (const [k, b] of this.buckets) if (b.tokens + ((t - b.at) / 1000) * perSecond >= burst) this.buckets.delete(k);
  }
}
