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

test('a cookie-authenticated write needs the session CSRF token; a WebSocket needs the same origin', async () => {
  const { csrfProblem } = await import('./authn.js');
  const req = (method: string, headers: Record<string, string>) => ({ method, headers }) as never;
  assert.equal(csrfProblem(req('GET', {}), 'abc'), undefined);
  assert.equal(csrfProblem(req('HEAD', {}), 'abc'), undefined);
  assert.match(csrfProblem(req('POST', {}), 'abc')!, /must carry the X-CSRF-Token header/);
  assert.match(csrfProblem(req('DELETE', { 'x-csrf-token': 'abd' }), 'abc')!, /does not match/);
  assert.match(csrfProblem(req('PATCH', { 'x-csrf-token': 'ab' }), 'abc')!, /does not match/);
  assert.equal(csrfProblem(req('POST', { 'x-csrf-token': 'abc' }), 'abc'), undefined);
  const ws = { upgrade: 'websocket', host: 'nimbo.example:8443' };
  assert.equal(csrfProblem(req('GET', { ...ws, origin: 'https://nimbo.example:8443' }), 'abc'), undefined);
  assert.match(csrfProblem(req('GET', { ...ws, origin: 'https://evil.example' }), 'abc')!, /own origin/);
});

test('the session cookie is read only when given once and well-formed', async () => {
  const { readCookie, sessionCookie } = await import('./cookies.js');
  assert.equal(readCookie('a=1; nimbo_session=abc_-9; b=2'), 'abc_-9');
  assert.equal(readCookie('nimbo_session=a; nimbo_session=b'), undefined);
  assert.equal(readCookie('nimbo_session=a"b'), undefined);
  assert.equal(readCookie(undefined), undefined);
  assert.equal(sessionCookie('v', 60, true), 'nimbo_session=v; Path=/api; HttpOnly; SameSite=Strict; Max-Age=60; Secure');
});
