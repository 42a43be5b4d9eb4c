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

test('a query token counts only on WebSocket upgrades, and only once', () => {
  assert.deepEqual(findCredential(undefined, { token: 't' }, true), { token: 't' });
  assert.match((findCredential(undefined, { token: 't' }, false) as { message: string }).message, /only for WebSocket upgrades/);
  assert.equal((findCredential(undefined, { token: ['a', 'b'] }, true) as { status: number }).status, 400);
  assert.equal((findCredential('Bearer x', { token: ['a', 'b'] }, false) as { status: number }).status, 400);
  assert.deepEqual(findCredential('Bearer x', { token: 'y' }, false), { token: 'x' });
  assert.equal((findCredential(undefined, undefined, false) as { status: number }).status, 401);
  assert.equal((findCredential(undefined, { token: '' }, false) as { status: number }).status, 401);
});

test('only a matched route that declares public is public', () => {
  assert.equal(isPublicRoute('/api/v1/health', { public: true }), true);
  assert.equal(isPublicRoute(undefined, { public: true }), false);
  assert.equal(isPublicRoute('/api/v1/host', {}), false);
  assert.equal(isPublicRoute('/api/v1/host', undefined), false);
});
