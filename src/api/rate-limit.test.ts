import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RateLimiter } from './rate-limit.js';
import { LoginThrottle } from './rate-limit-login.js';
import { buildServer } from './server.js';
import type { ApiContext } from './context.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { ensureAdminToken } from '../core/auth.js';
import { silentLogger } from '../lib/log.js';

test('a token bucket allows a burst, then refills at its rate', () => {
  let now = 0;
  const rl = new RateLimiter({ burst: 3, perSecond: 2 }, () => now);
  assert.deepEqual([1, 2, 3].map(() => rl.take('a').allowed), [true, true, true]);
  const refused = rl.take('a');
  assert.deepEqual({ allowed: refused.allowed, limit: refused.limit, remaining: refused.remaining, retry: refused.retryAfterS, reset: refused.resetS }, { allowed: false, limit: 3, remaining: 0, retry: 1, reset: 2 });
  assert.equal(rl.take('b').allowed, true, 'another key has its own bucket');
  now = 500; // half a second: one token back
  assert.equal(rl.take('a').allowed, true);
  assert.equal(rl.take('a').allowed, false);
  now = 60_000;
  assert.equal(rl.take('a').remaining, 2, 'refill stops at the burst');
});

test('full buckets are dropped when the map grows (memory stays bounded)', () => {
  let now = 0;
  const rl = new RateLimiter({ burst: 2, perSecond: 1 }, () => now, 100);
  for (let i = 0; i < 100; i++) rl.take(`k${i}`);
  now = 10_000;
  rl.take('new');
  assert.equal(rl.size(), 1);
});

test('login brake: 5 free failures, then 1 s doubling up to 60 s, per user name and per address', () => {
  let now = 0;
  const lt = new LoginThrottle({}, () => now);
  for (let i = 0; i < 5; i++) {
    assert.deepEqual(lt.check('alice', '192.0.2.1'), { allowed: true });
    lt.failure('alice', '192.0.2.1');
  }
  assert.deepEqual(lt.check('alice', '192.0.2.1'), { allowed: true }, 'five failures are free');
  lt.failure('alice', '192.0.2.1'); // 6th: 1 s
  assert.deepEqual(lt.check('alice', '198.51.100.7'), { allowed: false, retryAfterS: 1 }, 'the user name is locked from any address');
  assert.deepEqual(lt.check('bob', '192.0.2.1'), { allowed: false, retryAfterS: 1 }, 'the address is locked for any name');
  assert.deepEqual(lt.check('bob', '198.51.100.7'), { allowed: true });
  now += 1000;
  lt.failure('alice', '192.0.2.1'); // 7th: 2 s
  assert.deepEqual(lt.check('ALICE', '198.51.100.7'), { allowed: false, retryAfterS: 2 });
  for (let i = 0; i < 10; i++) lt.failure('alice', '192.0.2.1');
  assert.deepEqual(lt.check('alice', '198.51.100.7'), { allowed: false, retryAfterS: 60 }, 'capped at 60 s');
  lt.success('alice', '192.0.2.1');
  assert.deepEqual(lt.check('alice', '198.51.100.7'), { allowed: true }, 'a success clears the name');
  assert.equal(lt.check('carol', '192.0.2.1').allowed, false, 'but not the address');
  now += 16 * 60_000;
  assert.deepEqual(lt.check('carol', '192.0.2.1'), { allowed: true }, 'old failures are forgotten');
});

test('the API answers 429 with RateLimit headers and Retry-After, per caller and per address', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-ratelimit-'));
  const store = new SqliteStore(join(dir, 'state.db'));
  const token = await ensureAdminToken(store, join(dir, 'admin.token'));
  const ctx = { log: silentLogger(), store, webhooks: { list: async () => [] } } as unknown as ApiContext;
  const app = await buildServer(ctx, { rateLimits: { perCaller: { burst: 3, perSecond: 0.001 }, perAddress: { burst: 5, perSecond: 0.001 } } });
  try {
    const get = (h: Record<string, string> = { authorization: `Bearer ${token}` }) => app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: h });
    const codes: number[] = [];
    let last;
    for (let i = 0; i < 4; i++) codes.push((last = await get()).statusCode);
    assert.deepEqual(codes, [200, 200, 200, 429]);
    assert.equal(last!.headers['ratelimit-limit'], '3');
    assert.equal(last!.headers['ratelimit-remaining'], '0');
    assert.ok(Number(last!.headers['ratelimit-reset']) > 0);
    assert.ok(Number(last!.headers['retry-after']) >= 1);
    assert.equal((last!.json() as { error: { code: string } }).error.code, 'RateLimited');
    // The address bucket (5) was spent by those 4 and counts requests without a credential too.
    assert.equal((await get({})).statusCode, 401);
    const flood = await get({});
    assert.equal(flood.statusCode, 429);
    assert.match((flood.json() as { error: { message: string } }).error.message, /from this address/);
  } finally {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
