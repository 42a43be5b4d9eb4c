// The web panel's pure instance helpers (web/src/lib/instance-view.ts): list search and filters, live patches
// from events, and the create wizard's request body. Compiled by the root tsconfig through this import.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Event, Instance } from '../../src/shared/api-types.js';
import { applyInstanceEvent, createBody, filterInstances, plainText, sizeText, targetsInstance, type CreateForm } from '../../web/src/lib/instance-view.js';

const inst = (name: string, o: Partial<Instance> = {}): Instance => ({
  id: name, name, type: 'vm', image: 'tiny', state: 'running', accelerator: 'tcg', cpus: 1, memory: 1, disk: 1, addresses: ['10.0.0.2'],
  nics: [], pid: null, description: '', autostart: 'last-state', createdAt: '2026-12-05T00:00:00Z', ...o,
});
const ev = (target: string, data: unknown, type = 'instance'): Event => ({ type, target, time: '2026-12-05T00:00:00Z', data });
const names = (l: Instance[]) => l.map((i) => i.name);

test('search matches name, address and labels (all words, any case); filters by type and state; sorted by name', () => {
  const l = [inst('web2'), inst('web1', { labels: { env: 'prod' } }), inst('db', { type: 'container', state: 'stopped', addresses: ['10.0.0.9'] })];
  const f = { search: '', type: '' as const, state: '' };
  assert.deepEqual(names(filterInstances(l, f)), ['db', 'web1', 'web2']);
  assert.deepEqual(names(filterInstances(l, { ...f, search: 'WEB' })), ['web1', 'web2']);
  assert.deepEqual(names(filterInstances(l, { ...f, search: 'env=prod' })), ['web1']);
  assert.deepEqual(names(filterInstances(l, { ...f, search: '10.0.0.9' })), ['db']);
  assert.deepEqual(names(filterInstances(l, { ...f, search: 'web nope' })), []);
  assert.deepEqual(names(filterInstances(l, { ...f, type: 'container' })), ['db']);
  assert.deepEqual(names(filterInstances(l, { ...f, state: 'running' })), ['web1', 'web2']);
});

test('instance events patch the list: deleted rows go, states change in place, unknown or renamed ones ask for a reload', () => {
  const l = [inst('a'), inst('b')];
  assert.deepEqual(names(applyInstanceEvent(l, ev('a', { state: 'deleted' })).rows), ['b']);
  assert.equal(applyInstanceEvent(l, ev('a', { state: 'deleted' })).reload, false);
  assert.equal(applyInstanceEvent(l, ev('a', { state: 'deleted', renamedTo: 'c' })).reload, true);
  const r = applyInstanceEvent(l, ev('b', { state: 'stopped' }));
  assert.equal(r.rows[1]!.state, 'stopped');
  assert.equal(r.reload, false);
  assert.equal(l[1]!.state, 'running', 'the old list is not changed');
  assert.equal(applyInstanceEvent(l, ev('new', { state: 'creating' })).reload, true);
  assert.deepEqual(applyInstanceEvent(l, ev('a', { status: 'running' }, 'operation')), { rows: l, reload: false });
});

test('the create body has only what was given: sizes with units, a plan instead of sizes, keys a line, one NIC', () => {
  const f: CreateForm = { name: ' v1 ', type: 'vm', image: 'tiny', plan: 'none', cpus: '2', memory: '256', disk: '5', sshKey: 'ssh-ed25519 A a\n\n ssh-rsa B b ', network: '', securityGroups: [], userData: '' };
  assert.deepEqual(createBody(f), { name: 'v1', image: 'tiny', type: 'vm', cpus: 2, memory: '256MiB', disk: '5GiB', sshKeys: ['ssh-ed25519 A a', 'ssh-rsa B b'] });
  assert.deepEqual(createBody({ ...f, plan: 's-1', sshKey: '', securityGroups: ['web'], userData: '#!/bin/sh\n' }), {
    name: 'v1', image: 'tiny', type: 'vm', plan: 's-1', nics: [{ network: 'default', securityGroups: ['web'] }], userData: '#!/bin/sh\n',
  });
  assert.deepEqual(createBody({ ...f, type: 'container', cpus: '', memory: '', disk: '', sshKey: '', network: 'lan' }), { name: 'v1', image: 'tiny', type: 'container', nics: [{ network: 'lan' }] });
  assert.equal(sizeText('1GiB', 'MiB'), '1GiB');
  assert.equal(sizeText(' 1.5 ', 'GiB'), '1.5GiB');
});

test('activity belongs to an instance by its name or name/ prefix, not a longer name', () => {
  assert.ok(targetsInstance('v1', 'v1'));
  assert.ok(targetsInstance('v1/s1', 'v1'));
  assert.ok(!targetsInstance('v10', 'v1'));
});

test('console output loses terminal escapes and control characters, keeps lines and tabs', () => {
  assert.equal(plainText('root@v2:~# \x1b[6n\x1b[1;32mok\x1b[0m\r\nnext\tline\x07\x1b(B'), 'root@v2:~# ok\nnext\tline');
  assert.equal(plainText(''), '');
});
