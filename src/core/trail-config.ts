// Daemon settings of the audit log, rate limits and webhooks (flags of `nimbo daemon`), parsed here.
import { invalid } from '../lib/errors.js';

/** A token bucket: `burst` at once, refilled at `perSecond`. */
export interface BucketConfig {
  burst: number;
  perSecond: number;
}

/** Audit, rate-limit and webhook settings of nimbod. */
export interface TrailConfig {
  /** Days audit entries are kept (default 90). */
  auditRetentionDays: number;
  /** Rate limits per caller and per source address; an absent one is off. */
  rateLimits: { perCaller?: BucketConfig; perAddress?: BucketConfig };
  /** Let webhooks reach loopback, private and link-local addresses (off by default: SSRF). */
  webhookAllowInternal: boolean;
  /** Seconds between metering samples (default 60; tests make it short). */
  meterIntervalS: number;
}

/** Defaults: generous limits a CLI or panel in normal use never meets. */
export const TRAIL_DEFAULTS: TrailConfig = {
  auditRetentionDays: 90,
  rateLimits: { perCaller: { burst: 600, perSecond: 100 }, perAddress: { burst: 1200, perSecond: 200 } },
  webhookAllowInternal: false,
  meterIntervalS: 60,
};

/** Parse `BURST:PER_SECOND` (e.g. 600:100) of flag `flag`. Pure. */
export function parseBucket(flag: string, s: string): BucketConfig {
  const m = /^([0-9]{1,7}):([0-9]{1,7}(?:\.[0-9]{1,3})?)$/.exec(s);
  const burst = m ? Number(m[1]) : NaN;
  const perSecond = m ? Number(m[2]) : NaN;
  if (!m || burst < 1 || perSecond <= 0) throw invalid(`${flag} ${JSON.stringify(s)} must be BURST:PER_SECOND with both above 0, e.g. 600:100`);
  return { burst, perSecond };
}

/** Parse the retention flag: whole days, 1 to 36500. Pure. */
export function parseRetentionDays(s: string): number {
  const n = Number(s);
  if (!/^[0-9]{1,5}$/.test(s) || n < 1 || n > 36500) throw invalid(`--audit-retention ${JSON.stringify(s)} must be a whole number of days from 1 to 36500`);
  return n;
}
