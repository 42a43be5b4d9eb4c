import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { ApiClient } from './client.js';
import { CliError } from './errors.js';

let server: Server;
let url = '';
let connections = 0;
before(async () => {
  server = createServer((req, res) => {
    if (req.url?.startsWith('/api/v1/slow')) return; // never answers
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ instances: [], status: 'ok' }));
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

test('one client reuses one kept-alive connection for its requests', async () => {
  const before = connections;
  const client = new ApiClient(url, 't');
  for (let i = 0; i < 4; i++) assert.deepEqual(await client.listInstances(), []);
  assert.equal(connections - before, 1);
  client.close();
  // A closed client opens a new connection when used again.
  await client.listInstances();
  assert.equal(connections - before, 2);
  client.close();
});

test('a request past its time limit fails as a timeout, not as unreachable', async () => {
  const client = new ApiClient(url, 't', { timeoutMs: 200 });
  const e = await client.json('GET', '/slow').catch((x: unknown) => x);
  assert.ok(e instanceof CliError);
  assert.equal(e.kind, 'timeout');
  assert.match(e.message, /did not answer within/);
  client.close();
});

test('an idle kept-alive connection does not keep the process alive', async () => {
  // The child never closes its client: it must still exit on its own once its work is done.
  const code = `const { ApiClient } = await import(${JSON.stringify(new URL('./client.js', import.meta.url).href)});
const c = new ApiClient(${JSON.stringify(url)}, 't'); await c.listInstances(); await c.listInstances(); console.log('done');`;
  const r = await new Promise<{ code: number | null; out: string; killed: boolean }>((resolve) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', code]);
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    // Far beyond any keep-alive or socket timeout a hanging socket would hit (fastify's is 72 s, node's 5 s).
    const guard = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('close', (c, sig) => {
      clearTimeout(guard);
      resolve({ code: c, out, killed: sig === 'SIGKILL' });
    });
  });
  assert.equal(r.killed, false, 'the process hung on its idle connection');
  assert.equal(r.code, 0);
  assert.equal(r.out, 'done\n');
});
