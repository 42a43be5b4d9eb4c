// Which pages the panel offers: the page table's needs checked with the daemon's own policy function.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pageAllowed } from '../../web/src/lib/page-access.js';
import { authorize } from '../../src/core/authz/policy.js';
import type { Principal } from '../../src/core/identity/principal.js';
import type { Action, Resource } from '../../src/core/authz/access.js';

const may = (p: Principal, project = 'default') => (action: Action, resource: Resource) => authorize(p, { action, resource }, project).allowed;
const operator: Principal = { userId: 'u1', userName: 'bob', via: 'session', platformRole: 'operator', projects: {} };
const viewer: Principal = { userId: 'u2', userName: 'carol', via: 'session', projects: { shop: 'viewer' } };
// The same needs as web/src/routes.ts gives Storage, Backups and Users.
const storage = { need: [['read', 'volume'], ['read', 'pool']] as [Action, Resource][] };
const backups = { need: [['read', 'backup'], ['write', 'backup-store']] as [Action, Resource][] };
const users = { need: ['read', 'user'] as [Action, Resource] };

test('a page with several needs opens when any one is allowed: an operator without a project reaches pools and backup stores', () => {
  assert.equal(pageAllowed(storage, may(operator)), true);
  assert.equal(pageAllowed(backups, may(operator)), true);
  assert.equal(pageAllowed(users, may(operator)), true);
});

test('a tenant viewer reaches its project pages, not the platform ones; a page without needs is open', () => {
  assert.equal(pageAllowed(storage, may(viewer, 'shop')), true);
  assert.equal(pageAllowed(backups, may(viewer, 'shop')), true);
  assert.equal(pageAllowed(users, may(viewer, 'shop')), false);
  assert.equal(pageAllowed(storage, may(viewer, 'other')), false);
  assert.equal(pageAllowed({}, () => false), true);
});
