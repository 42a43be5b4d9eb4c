import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WsTickets } from './ws-tickets.js';
import type { Principal } from '../identity/principal.js';

const bob: Principal = { userId: 'u1', userName: 'bob', via: 'token', projects: { a: 'viewer' }, token: { id: 't', access: 'read', project: 'a' } };

test('a ticket opens once, as the same principal and token scope, marked as a ticket', () => {
  const t = new WsTickets();
  const { ticket, expiresAt } = t.issue(bob);
  assert.match(ticket, /^nwt_[A-Za-z0-9_-]{43}$/);
  assert.ok(Date.parse(expiresAt) > Date.now());
  assert.deepEqual(t.redeem(ticket), { ...bob, via: 'ticket' });
  assert.equal(t.redeem(ticket), undefined, 'single use');
  assert.equal(t.redeem('nwt_unknown'), undefined);
  assert.notEqual(t.issue(bob).ticket, t.issue(bob).ticket);
});

test('a ticket expires after its time, and expired ones are dropped', () => {
  let now = 1_000_000;
  const t = new WsTickets(30_000, () => now);
  const a = t.issue(bob).ticket;
  const b = t.issue(bob).ticket;
  now += 29_999;
  assert.ok(t.redeem(a));
  now += 1;
  assert.equal(t.redeem(b), undefined, 'expired at 30 s');
  t.issue(bob);
  now += 30_000;
  t.issue(bob);
  assert.equal(t.size, 1, 'the expired one was pruned');
});
