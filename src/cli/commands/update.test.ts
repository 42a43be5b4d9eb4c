// `nimbo rename` and `nimbo update` against the fake daemon: the PATCH bodies sent, the summary lines, -o json, refusals.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FakeDaemon, sampleInstance } from '../fake-daemon.js';
import { runNimbo } from '../cli-harness.js';
import { updateBody } from './update.js';

const fake = new FakeDaemon();
const nimbo = (...args: string[]) => runNimbo(fake.url, fake.token, '/nonexistent', args);
before(() => fake.start());
after(() => fake.stop());

test('rename sends PATCH {name} and prints one line; -o json prints the renamed Instance', async () => {
  fake.instances = [sampleInstance({ name: 'web' }), sampleInstance({ name: 'db' })];
  const r = await nimbo('rename', 'web', 'www');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Renamed web to www\n');
  assert.deepEqual(fake.seen.at(-1), { ...fake.seen.at(-1)!, method: 'PATCH', path: '/api/v1/instances/web', body: { name: 'www' } });
  const j = await nimbo('rename', 'www', 'w2', '-o', 'json');
  assert.equal(JSON.parse(j.stdout).name, 'w2');
});

test('rename to a taken name: the daemon\'s 409 is printed, exit 4 (conflict)', async () => {
  fake.instances = [sampleInstance({ name: 'web' }), sampleInstance({ name: 'db' })];
  const r = await nimbo('rename', 'web', 'db');
  assert.equal(r.code, 4);
  assert.match(r.stderr, /instance db already exists/);
  assert.match((await nimbo('rename', 'web', 'Bad_Name')).stderr, /instance name/, 'a bad name is refused before any request');
});

test('update sends only the fields given; --label merges into the current labels, --remove-label drops one', async () => {
  fake.instances = [sampleInstance({ name: 'web', state: 'stopped', labels: { a: '1', b: '2' } })];
  const r = await nimbo('update', 'web', '--description', 'front end', '--label', 'c=3', '--remove-label', 'a', '--autostart', 'always', '--cpus', '2', '--memory', '1GiB');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Updated web\n');
  const patch = fake.seen.filter((s) => s.method === 'PATCH').at(-1)!;
  assert.deepEqual(patch.body, { description: 'front end', labels: { b: '2', c: '3' }, autostart: 'always', cpus: 2, memory: '1GiB' });
  const j = await nimbo('update', 'web', '--description', 'x', '-o', 'json');
  assert.equal(JSON.parse(j.stdout).description, 'x');
});

test('update refuses nothing-to-change and bad values before any request; cpus on a running instance is the daemon\'s 409', async () => {
  fake.instances = [sampleInstance({ name: 'web', state: 'running' })];
  const before = fake.seen.length;
  const none = await nimbo('update', 'web');
  assert.equal(none.code, 2);
  assert.match(none.stderr, /nothing to change/);
  assert.equal((await nimbo('update', 'web', '--autostart', 'sometimes')).code, 2);
  assert.equal((await nimbo('update', 'web', '--cpus', '0')).code, 2);
  assert.equal(fake.seen.length, before, 'no request was sent');
  const busy = await nimbo('update', 'web', '--cpus', '2');
  assert.equal(busy.code, 4);
  assert.match(busy.stderr, /instance web is running: cpus and memory can be changed only while it is stopped/);
});

test('updateBody: a label both set and removed is a usage error', () => {
  assert.throws(() => updateBody({ label: ['a=1'], removeLabel: ['a'] }), /contradict/);
  assert.deepEqual(updateBody({ description: '' }), { description: '' });
});

test('info shows the description (when there is one) and the autostart policy', async () => {
  fake.instances = [sampleInstance({ name: 'web', description: 'front end', autostart: 'always' })];
  const r = await nimbo('info', 'web');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Description:\s+front end$/m);
  assert.match(r.stdout, /^Autostart:\s+always$/m);
});
