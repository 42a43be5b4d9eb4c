import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { ApiClient } from './client.js';
import { runConsole } from './console.js';
import { CliError } from './errors.js';
import { FakeDaemon, freePort } from './fake-daemon.js';
import { followOperation } from './progress.js';

const fake = new FakeDaemon();
let client: ApiClient;
before(async () => {
  client = new ApiClient(await fake.start(), fake.token);
});
after(() => fake.stop());

test('health needs no token; other calls send the bearer token', async () => {
  const anon = new ApiClient(fake.url, undefined, { tokenProblem: 'no API token: file missing' });
  assert.deepEqual(await anon.health(), { status: 'ok' });
  await assert.rejects(anon.listInstances(), /^CliError: no API token: file missing$/);
  const list = await client.listInstances();
  assert.equal(list[0]?.name, 'vm1');
  assert.equal(fake.seen.at(-1)?.auth, 'Bearer secret');
});

test('error bodies become one-line CliErrors with the server code', async () => {
  const err = await client.getInstance('nope').catch((e: unknown) => e);
  assert.ok(err instanceof CliError);
  assert.equal(err.message, 'instance nope not found');
  assert.equal(err.code, 'NotFound');
  assert.equal(err.status, 404);
  const bad = new ApiClient(fake.url, 'wrong');
  await assert.rejects(bad.listImages(), /missing or invalid token/);
});

test('an unreachable daemon gives a clear hint', async () => {
  const port = await freePort();
  const dead = new ApiClient(`http://127.0.0.1:${port}`, 't');
  await assert.rejects(dead.listInstances(), { message: `cannot reach nimbod at http://127.0.0.1:${port} (is it running? try: ./nimbo up)` });
  await assert.rejects(dead.openConsole('vm1'), /cannot reach nimbod/);
  const noToken = new ApiClient(`http://127.0.0.1:${port}`);
  await assert.rejects(noToken.listInstances(), /cannot reach nimbod/);
});

test('202 + wait loop: launch follows the operation to success', async () => {
  const op = await client.createInstance({ name: 'web', image: 'tiny', memory: '1GiB', sshKeys: ['ssh-ed25519 K'] });
  assert.equal(op.status, 'running');
  assert.deepEqual(fake.seen.at(-1)?.body, { name: 'web', image: 'tiny', memory: '1GiB', sshKeys: ['ssh-ed25519 K'] });
  const lines: string[] = [];
  const final = await followOperation(client, op, { stream: { write: (s: string) => lines.push(s) }, detachOnInterrupt: false });
  assert.equal(final.status, 'success');
  assert.deepEqual(lines, ['progress 0%\n', 'step to 50%\n', 'progress 50%\n', 'step to 100%\n', 'progress 100%\n']);
  const waits = fake.seen.filter((r) => r.path === `/api/v1/operations/${op.id}/wait`);
  assert.equal(waits.length, 2);
  assert.equal(waits[0]?.query.get('timeout'), '2');
});

test('a failed operation rejects with its error message', async () => {
  fake.finalStatus = 'failure';
  try {
    const op = await client.instanceAction('vm1', 'stop', { force: true, timeout: 5 });
    assert.deepEqual(fake.seen.at(-1)?.body, { force: true, timeout: 5 });
    await assert.rejects(followOperation(client, op, { quiet: true, detachOnInterrupt: false }), {
      message: 'qemu-img failed (exit 1): no space left on device',
      code: 'HostCommandFailed',
    });
  } finally {
    fake.finalStatus = 'success';
  }
});

test('delete, images, operations routes', async () => {
  await client.deleteInstance('vm1', true);
  assert.equal(fake.seen.at(-1)?.query.get('force'), 'true');
  await client.buildImage({ name: 'tiny' });
  const imp = await client.importImage({ name: 'deb', path: '/tmp/deb.qcow2' });
  assert.equal(imp.kind, 'image.import');
  await client.deleteImage('deb');
  assert.ok((await client.listOperations()).length >= 4);
  const c = await client.cancelOperation(imp.id);
  assert.equal(c.status, 'cancelled');
  assert.equal((await client.getOperation(imp.id)).status, 'cancelled');
});

test('console log is plain text', async () => {
  assert.equal(await client.consoleLog('vm1', 100), 'last 100 bytes\n');
  assert.equal(await client.consoleLog('vm1'), 'last default bytes\n');
});

test('console WebSocket round-trip, detach with Ctrl-]', async () => {
  const ws = await client.openConsole('vm1');
  const input = new PassThrough();
  const output = new PassThrough();
  const notices = new PassThrough();
  let got = '';
  output.on('data', (c: Buffer) => {
    got += c.toString();
    if (got.includes('echo:hello') && !got.includes('sent-detach')) {
      got += 'sent-detach';
      input.write(Buffer.from([0x6f, 0x6b, 0x1d, 0x78])); // "ok", Ctrl-], "x" (never sent)
    }
  });
  const done = runConsole(ws, { input, output, notices, interactive: false, name: 'vm1' });
  input.write('hello');
  await done;
  assert.match(got, /^boot log tail\necho:hello/);
  await new Promise((r) => setTimeout(r, 50));
  assert.doesNotMatch(got, /echo:x/);
});

test('piped console: stdin EOF detaches once the guest is quiet', async () => {
  const ws = await client.openConsole('vm1');
  const input = new PassThrough();
  const output = new PassThrough();
  let got = '';
  output.on('data', (c: Buffer) => (got += c.toString()));
  const done = runConsole(ws, { input, output, notices: new PassThrough(), interactive: false, name: 'vm1', quietAfterEofMs: 200 });
  input.end('ls\n');
  await done;
  assert.match(got, /echo:ls\n/);
});

test('console of a missing instance fails with the server message', async () => {
  await assert.rejects(client.openConsole('ghost'), { message: 'instance ghost not found', status: 404 });
});

test('a client of a project sends ?project= on every request (a query of its own kept), one without none', async () => {
  const acme = new ApiClient(fake.url, fake.token, { project: 'acme' });
  await acme.listInstances();
  assert.equal(fake.seen.at(-1)?.query.get('project'), 'acme');
  await acme.getInstance('vm1');
  assert.equal(fake.seen.at(-1)?.query.get('project'), 'acme');
  assert.equal(new URL(acme.url('/operations/x/wait', { timeout: 5 })).search, '?timeout=5&project=acme');
  assert.equal(new URL(acme.url('/instances', { project: 'other' })).searchParams.getAll('project').join(), 'other', 'an explicit one wins');
  await client.listInstances();
  assert.equal(fake.seen.at(-1)?.query.get('project'), null);
});
