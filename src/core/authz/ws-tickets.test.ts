import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TICKET_TTL_MS, WsTickets } from './ws-tickets.js';
import type { Principal } from '../identity/principal.js';

const bob: Principal = { userId: 'u1', userName: 'bob', via: 'token', projects: { a: 'viewer' }, token: { id: 't', access: 'read', project: 'a' } };
const defaultOf = () => 'a';
const events = { project: 'a' };
const web1 = { project: 'a', instance: 'web1' };

test('a ticket opens once, as the same principal and token scope, marked as a ticket', () => {
  const t = new WsTickets();
  const { ticket, expiresAt, project } = t.issue(bob, events);
  assert.match(ticket, /^nwt_[A-Za-z0-9_-]{43}$/);
  assert.equal(project, 'a');
  assert.ok(Date.parse(expiresAt) > Date.now());
  assert.deepEqual(t.redeem(ticket, {}, defaultOf), { principal: { ...bob, via: 'ticket' } });
  assert.match((t.redeem(ticket, {}, defaultOf) as { refused: string }).refused, /unknown or was used already/, 'single use');
  assert.match((t.redeem('nwt_unknown', {}, defaultOf) as { refused: string }).refused, /unknown/);
  assert.notEqual(t.issue(bob, events).ticket, t.issue(bob, events).ticket);
});

test('a ticket expires after 60 s, says so, and expired ones are dropped', () => {
  assert.equal(TICKET_TTL_MS, 60_000);
  let now = 1_000_000;
  const t = new WsTickets(TICKET_TTL_MS, () => now);
  const a = t.issue(bob, events).ticket;
  const b = t.issue(bob, events).ticket;
  now += 59_999;
  assert.ok('principal' in t.redeem(a, events, defaultOf));
  now += 1;
  assert.match((t.redeem(b, events, defaultOf) as { refused: string }).refused, /expired \(tickets last 60 s\)/);
  t.issue(bob, events);
  now += 60_000;
  t.issue(bob, events);
  assert.equal(t.size, 1, 'the expired one was pruned');
});

test("an instance's ticket opens only that instance in that project; one without opens only the events stream", () => {
  const t = new WsTickets();
  const refused = (scope: object, target: { project?: string; instance?: string }) => (t.redeem(t.issue(bob, scope as typeof events).ticket, target, defaultOf) as { refused?: string }).refused;
  assert.equal(refused(web1, { instance: 'web1' }), undefined, 'the default project is the principal\'s');
  assert.equal(refused(web1, { project: 'a', instance: 'web1' }), undefined);
  assert.match(refused(web1, { instance: 'db' })!, /issued for instance web1 in project a, not for instance db in project a/);
  assert.match(refused(web1, { project: 'b', instance: 'web1' })!, /not for instance web1 in project b/);
  assert.match(refused(web1, {})!, /issued for instance web1, not for the events stream/);
  assert.match(refused(events, { instance: 'web1' })!, /events stream only, not for instance web1/);
  assert.match(refused(events, { project: 'b' })!, /events stream of project a, not for the events stream of project b/);
  // A refused attempt spends the ticket too: it cannot be tried against one instance after another.
  const { ticket } = t.issue(bob, web1);
  assert.ok('refused' in t.redeem(ticket, { instance: 'db' }, defaultOf));
  assert.match((t.redeem(ticket, { instance: 'web1' }, defaultOf) as { refused: string }).refused, /used already/);
});
