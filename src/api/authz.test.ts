import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { Type } from '@sinclair/typebox';
import { installAuthentication } from './authn.js';
import { defaultProject, installAuthorization, queryProject } from './authz.js';
import type { Principal } from '../core/identity/principal.js';
import type { Store } from '../store/store.js';

const mia: Principal = { userId: 'u1', userName: 'mia', via: 'session', projects: { web: 'member', db: 'viewer' } };

test('a route that declares no access is refused (403, one sentence) and its handler never runs', async () => {
  const app = Fastify();
  app.addHook('onRequest', async (req) => void (req.principal = mia));
  installAuthentication(app, () => ({}) as Store);
  installAuthorization(app);
  let ran = 0;
  app.get('/forgot', async () => ++ran);
  app.get('/declared', { config: { access: { action: 'read', resource: 'instance' } }, schema: { querystring: Type.Object({ n: Type.Optional(Type.Integer()) }, { additionalProperties: false }) } }, async (req) => ({ project: req.project, query: req.query }));
  app.get('/projects/:name/members', { config: { access: { action: 'write', resource: 'member' }, projectParam: 'name' } }, async (req) => ({ project: req.project }));
  app.get('/open', { config: { public: true } }, async () => 'hi');
  const forgot = await app.inject('/forgot');
  assert.equal(forgot.statusCode, 403);
  assert.deepEqual(forgot.json(), { error: { code: 'Forbidden', message: 'route GET /forgot declares no access' } });
  assert.equal(ran, 0);
  // A declared route runs in the chosen project; ?project= is gone before the strict query schema sees it.
  assert.deepEqual((await app.inject('/declared?project=db&n=2')).json(), { project: 'db', query: { n: 2 } });
  assert.deepEqual((await app.inject('/declared')).json(), { project: 'web', query: {} });
  assert.equal((await app.inject('/open')).body, 'hi');
  // A project named in the path is the request's project: a member may not change members there, nor anything in others.
  assert.equal((await app.inject('/projects/web/members')).json().error.message, 'user mia is a member in project web and may not change project members');
  assert.equal((await app.inject('/projects/other/members?project=web')).json().error.message, 'you have no access to project other');
  assert.equal((await app.inject('/projects/Bad/members')).statusCode, 400);
  assert.equal((await app.inject('/nowhere')).statusCode, 404);
  await app.close();
});

test('?project= is one valid name', () => {
  assert.deepEqual(queryProject({ project: 'web' }), { project: 'web' });
  assert.deepEqual(queryProject({}), {});
  assert.deepEqual(queryProject(undefined), {});
  assert.deepEqual(queryProject({ project: ['a', 'b'] }), { message: 'the project parameter was given more than once' });
  assert.match((queryProject({ project: '../etc' }) as { message: string }).message, /is not a valid project name/);
  assert.match((queryProject({ project: 'a'.repeat(64) }) as { message: string }).message, /is not a valid project name/);
});

test('without ?project=: the token project, else the default project, else the first project, else default', () => {
  assert.equal(defaultProject(mia), 'web');
  assert.equal(defaultProject({ ...mia, token: { id: 't', access: 'write', project: 'db' } }), 'db');
  assert.equal(defaultProject({ ...mia, defaultProject: 'db' }), 'db', "the user's default project");
  assert.equal(defaultProject({ ...mia, defaultProject: 'db', token: { id: 't', access: 'write', project: 'web' } }), 'web', 'a token limited to a project wins');
  assert.equal(defaultProject({ ...mia, platformRole: 'admin', projects: {} }), 'default');
});

test("an admin's request in a project that does not exist is 404 before any handler runs; a member's is never looked up", async () => {
  const app = Fastify();
  const admin: Principal = { userId: 'u0', userName: 'root', via: 'token', platformRole: 'admin', projects: {} };
  let who = admin;
  app.addHook('onRequest', async (req) => void (req.principal = who));
  installAuthentication(app, () => ({}) as Store);
  const asked: string[] = [];
  installAuthorization(app, async (name) => (asked.push(name), name === 'shop'));
  let ran = 0;
  app.post('/things', { config: { access: { action: 'write', resource: 'instance' } } }, async (req) => (++ran, { project: req.project }));
  const typo = await app.inject({ method: 'POST', url: '/things?project=shpo' });
  assert.equal(typo.statusCode, 404);
  assert.deepEqual(typo.json(), { error: { code: 'NotFound', message: 'project shpo does not exist' } });
  assert.equal(ran, 0);
  assert.deepEqual((await app.inject({ method: 'POST', url: '/things?project=shop' })).json(), { project: 'shop' });
  assert.deepEqual((await app.inject({ method: 'POST', url: '/things' })).json(), { project: 'default' }, 'default always exists');
  who = mia;
  assert.deepEqual((await app.inject({ method: 'POST', url: '/things?project=web' })).json(), { project: 'web' });
  assert.deepEqual(asked, ['shpo', 'shop']);
  await app.close();
});
