// The API's rate limits: a token bucket per source address (before authentication) and one per caller
// (API token, else session, else user; after authentication). Every limited answer carries the IETF
// draft headers RateLimit-Limit/-Remaining/-Reset of the tighter bucket; a refusal is a 429 with Retry-After.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RateLimiter, type RateLimits, type Take } from './rate-limit.js';
import type { Principal } from '../core/identity/principal.js';

/** The bucket key of a caller: its token, else its session, else its user. */
export function callerKey(p: Principal): string {
  if (p.token) return `token:${p.token.id}`;
  if (p.sessionId) return `session:${p.sessionId}`;
  return `user:${p.userId}`;
}

/** Set the RateLimit headers of `t` on `reply`, unless a tighter bucket already set them. */
function setHeaders(reply: FastifyReply, t: Take): void {
  const prev = reply.getHeader('RateLimit-Remaining');
  if (prev !== undefined && Number(prev) <= t.remaining) return;
  reply.header('RateLimit-Limit', String(t.limit));
  reply.header('RateLimit-Remaining', String(t.remaining));
  reply.header('RateLimit-Reset', String(t.resetS));
}

/** Answer 429 Too Many Requests with Retry-After (also used by the login brake). */
export function tooManyRequests(reply: FastifyReply, retryAfterS: number, message: string) {
  return reply.code(429).header('Retry-After', String(retryAfterS)).send({ error: { code: 'RateLimited', message } });
}

function limitHook(limiter: RateLimiter, keyOf: (req: FastifyRequest) => string | undefined, what: string) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const key = keyOf(req);
    if (key === undefined) return;
    const t = limiter.take(key);
    setHeaders(reply, t);
    if (!t.allowed) return tooManyRequests(reply, t.retryAfterS, `too many requests ${what}: retry in ${t.retryAfterS} s`);
  };
}

/**
 * Install the limits on `app`. Call it twice around authentication: `stage: 'address'` before it
 * (so floods without a credential are limited too), `stage: 'caller'` after it.
 */
export function installRateLimit(app: FastifyInstance, stage: 'address' | 'caller', limits: RateLimits, now: () => number = Date.now): void {
  if (stage === 'address') {
    if (!limits.perAddress) return;
    app.addHook('onRequest', limitHook(new RateLimiter(limits.perAddress, now), (req) => `addr:${req.ip}`, 'from this address'));
  } else {
    if (!limits.perCaller) return;
    app.addHook('onRequest', limitHook(new RateLimiter(limits.perCaller, now), (req) => (req.principal ? callerKey(req.principal) : undefined), 'with this credential'));
  }
}
