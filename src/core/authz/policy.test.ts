import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorize, mayUseItem } from './policy.js';
import { PLATFORM_RESOURCES, PROJECT_RESOURCES, type Access, type Action, type Resource } from './access.js';
import type { Principal } from '../identity/principal.js';

const user = (userName: string, extra: Partial<Principal> = {}): Principal => ({ userId: `u-${userName}`, userName, via: 'session', projects: {}, ...extra });
const P = {
  admin: user('root', { platformRole: 'admin' }),
  operator: user('ops', { platformRole: 'operator' }),
  owner: user('olga', { projects: { a: 'owner' } }),
  member: user('mia', { projects: { a: 'member' } }),
  viewer: user('bob', { projects: { a: 'viewer' } }),
  nobody: user('nemo'),
  readToken: user('mia', { via: 'token', projects: { a: 'member' }, token: { id: 't1', access: 'read' } }),
  tokenB: user('olga', { via: 'token', projects: { a: 'owner', b: 'member' }, token: { id: 't2', access: 'write', project: 'b' } }),
  adminTokenB: user('root', { via: 'token', platformRole: 'admin', token: { id: 't3', access: 'write', project: 'b' } }),
} satisfies Record<string, Principal>;

const ok = (p: Principal, action: Action, resource: Resource, project?: string) => authorize(p, { action, resource }, project).allowed;
const why = (p: Principal, action: Action, resource: Resource, project?: string) => {
  const d = authorize(p, { action, resource }, project);
  return d.allowed ? 'allowed' : `${d.status} ${d.message}`;
};

// [principal, action, resource, project, allowed]: the rules of the issue, one row each.
const TABLE: [keyof typeof P, Action, Resource, string | undefined, boolean][] = [
  ['admin', 'write', 'instance', 'a', true], ['admin', 'write', 'instance', 'zzz', true], ['admin', 'write', 'user', undefined, true], ['admin', 'write', 'quota', 'a', true],
  ['operator', 'write', 'host', undefined, true], ['operator', 'write', 'pool', undefined, true], ['operator', 'write', 'plan', undefined, true],
  ['operator', 'read', 'project', undefined, true], ['operator', 'write', 'project', undefined, false], ['operator', 'read', 'user', undefined, true],
  ['operator', 'write', 'user', undefined, false], ['operator', 'read', 'audit', undefined, true], ['operator', 'write', 'audit', undefined, false],
  ['operator', 'read', 'instance', 'a', false], ['operator', 'read', 'volume', 'default', false], ['operator', 'read', 'operation', 'a', true], ['operator', 'read', 'event', 'a', true],
  ['owner', 'write', 'instance', 'a', true], ['owner', 'write', 'member', 'a', true], ['owner', 'read', 'quota', 'a', true], ['owner', 'write', 'quota', 'a', false],
  ['owner', 'write', 'webhook', 'a', true], ['owner', 'read', 'instance', 'b', false], ['owner', 'read', 'operation', 'b', false], ['owner', 'read', 'host', undefined, false],
  ['owner', 'read', 'pool', undefined, false], ['owner', 'read', 'user', undefined, false],
  ['member', 'write', 'instance', 'a', true], ['member', 'write', 'network', 'a', true], ['member', 'read', 'member', 'a', true], ['member', 'write', 'member', 'a', false],
  ['member', 'read', 'quota', 'a', true], ['member', 'write', 'quota', 'a', false], ['member', 'write', 'instance', 'b', false],
  ['viewer', 'read', 'instance', 'a', true], ['viewer', 'read', 'member', 'a', true], ['viewer', 'write', 'instance', 'a', false], ['viewer', 'write', 'operation', 'a', false],
  ['nobody', 'read', 'instance', 'default', false], ['nobody', 'read', 'operation', 'default', false],
  ['readToken', 'read', 'instance', 'a', true], ['readToken', 'write', 'instance', 'a', false], ['readToken', 'write', 'self', undefined, false], ['readToken', 'read', 'plan', undefined, true],
  ['tokenB', 'write', 'instance', 'b', true], ['tokenB', 'write', 'instance', 'a', false], ['tokenB', 'write', 'member', 'b', false], ['tokenB', 'read', 'plan', undefined, true],
  ['tokenB', 'write', 'self', undefined, true],
  ['adminTokenB', 'write', 'instance', 'b', true], ['adminTokenB', 'read', 'instance', 'a', false], ['adminTokenB', 'write', 'pool', undefined, false], ['adminTokenB', 'read', 'pool', undefined, true],
];

test('the policy table: each role, token scope and project as the issue defines them', () => {
  const wrong = TABLE.filter(([p, action, resource, project, want]) => ok(P[p], action, resource, project) !== want)
    .map(([p, action, resource, project, want]) => `${p} ${action} ${resource} ${project ?? '-'}: want ${want}, got ${why(P[p], action, resource, project)}`);
  assert.deepEqual(wrong, []);
});

test('every authenticated user may see plans and projects and manage itself, and nothing else of the platform', () => {
  for (const p of [P.owner, P.member, P.viewer, P.nobody]) {
    for (const r of PLATFORM_RESOURCES) {
      for (const a of ['read', 'write'] as const) assert.equal(ok(p, a, r), ((r === 'plan' || r === 'project' || r === 'backup-store') && a === 'read') || r === 'self', `${p.userName} ${a} ${r}`);
    }
  }
});

test('an admin may do everything, in any project; a viewer only reads its own project', () => {
  for (const r of [...PLATFORM_RESOURCES, ...PROJECT_RESOURCES]) {
    for (const a of ['read', 'write'] as const) {
      assert.equal(ok(P.admin, a, r, 'anything'), true);
      if ((PROJECT_RESOURCES as readonly string[]).includes(r)) {
        assert.equal(ok(P.viewer, a, r, 'a'), a === 'read', `viewer ${a} ${r}`);
        assert.equal(ok(P.viewer, a, r, 'b'), false);
      }
    }
  }
});

test('refusals are one sentence that says who, what and why', () => {
  assert.equal(why(P.viewer, 'write', 'instance', 'a'), '403 user bob is a viewer in project a and may not change instances');
  assert.equal(why(P.member, 'write', 'member', 'a'), '403 user mia is a member in project a and may not change project members');
  assert.equal(why(P.owner, 'write', 'quota', 'a'), '403 user olga is an owner in project a and may not change quotas');
  assert.equal(why(P.owner, 'read', 'instance', 'b'), '403 you have no access to project b');
  assert.equal(why(P.operator, 'read', 'instance', 'a'), '403 you have no access to project a');
  assert.equal(why(P.operator, 'write', 'user'), '403 user ops is an operator and may not change users');
  assert.equal(why(P.member, 'read', 'host'), '403 user mia has no platform role and may not see the host');
  assert.equal(why(P.readToken, 'write', 'instance', 'a'), '403 this token is read-only and may not change instances');
  assert.equal(why(P.tokenB, 'read', 'instance', 'a'), '403 this token is limited to project b and may not be used in project a');
  assert.equal(why(P.adminTokenB, 'write', 'pool'), '403 this token is limited to project b and may not change storage pools');
  assert.match(why(P.member, 'read', 'instance'), /^403 no project was chosen/);
});

test('items of operations and events: own project only; platform ones to admins and operators without a project token', () => {
  const read: Access = { action: 'read', resource: 'operation' };
  const write: Access = { action: 'write', resource: 'operation' };
  const rows: [keyof typeof P, Access, string | undefined, string, boolean][] = [
    ['admin', read, undefined, 'default', true], ['admin', read, 'a', 'a', true], ['admin', read, 'b', 'a', false],
    ['operator', read, undefined, 'default', true], ['operator', write, undefined, 'default', true], ['operator', read, 'a', 'a', false],
    ['owner', read, 'a', 'a', true], ['owner', read, undefined, 'a', false], ['owner', read, 'b', 'a', false], ['owner', read, 'b', 'b', false],
    ['viewer', read, 'a', 'a', true], ['viewer', write, 'a', 'a', false], ['member', write, 'a', 'a', true],
    ['readToken', write, 'a', 'a', false], ['tokenB', read, 'b', 'b', true], ['tokenB', read, 'a', 'a', false],
    ['adminTokenB', read, undefined, 'b', false], ['adminTokenB', read, 'b', 'b', true],
  ];
  const wrong = rows.filter(([p, acc, item, req, want]) => mayUseItem(P[p], acc, item, req) !== want).map(([p, acc, item, req, want]) => `${p} ${acc.action} item ${item ?? '-'} in ${req}: want ${want}`);
  assert.deepEqual(wrong, []);
  assert.equal(mayUseItem(P.admin, { action: 'write', resource: 'event' }, undefined, 'default'), true);
  assert.equal(mayUseItem({ ...P.admin, token: { id: 'x', access: 'read' } }, write, undefined, 'default'), false);
});
