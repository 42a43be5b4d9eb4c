import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findCredential, isPublicRoute } from './authn.js';

test('the Authorization header carries the bearer token, scheme case-insensitive', () => {
  assert.deepEqual(findCredential('Bearer abc', {}, false), { token: 'abc' });
  assert.deepEqual(findCredential('bearer  abc ', {}, false), { token: 'abc' });
  assert.equal((findCredential('Basic abc', {}, false) as { status: number }).status, 401);
  assert.equal((findCredential('Bearer', {}, false) as { status: number }).status, 401);
  assert.equal((findCredential('Bearer a b', {}, false) as { status: number }).status, 401);
});

test('a token is never taken from the URL; a ticket that reaches authentication is refused with a sentence', () => {
  for (const ws of [true, false]) {
    assert.match((findCredential(undefined, { token: 't' }, ws) as { message: string }).message, /^tokens are not accepted in URLs/);
    assert.equal((findCredential('Bearer x', { token: 'y' }, ws) as { status: number }).status, 401, 'even next to a valid header');
    assert.equal((findCredential(undefined, { token: '' }, ws) as { status: number }).status, 401);
    assert.equal((findCredential(undefined, { token: ['a', 'b'] }, ws) as { status: number }).status, 401);
  }
  // A valid ticket was redeemed before (ws-ticket-auth.ts) and is gone from the query; one left here is bad.
  assert.match((findCredential(undefined, { ticket: 'k' }, true) as { message: string }).message, /unknown, used or expired/);
  assert.match((findCredential(undefined, { ticket: 'k' }, false) as { message: string }).message, /only on a WebSocket upgrade/);
  assert.deepEqual(findCredential('Bearer x', { ticket: 'k' }, true), { token: 'x' });
  assert.equal((findCredential(undefined, undefined, false) as { status: number }).status, 401);
});

test('only a matched route that declares public is public', () => {
  assert.equal(isPublicRoute('/api/v1/health', { public: true }), true);
  assert.equal(isPublicRoute(undefined, { public: true }), false);
  assert.equal(isPublicRoute('/api/v1/host', {}), false);
  assert.equal(isPublicRoute('/api/v1/host', undefined), false);
});
