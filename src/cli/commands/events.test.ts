import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { WebSocketServer } from 'ws';
import type { Event } from '../../shared/api-types.js';
import { eventName, eventRow, typeFilter } from './events.js';

const T = '2026-12-04T20:03:08.123Z';
const EVENTS: Event[] = [
  { type: 'instance', time: T, target: 'vm1', data: { state: 'running' } },
  { type: 'operation', time: T, target: 'vm1', data: { id: 'op-0123456789abcdef', kind: 'instance.start', status: 'failure', progress: 50, log: ['boot'], error: { code: 'HostCommandFailed', message: 'qemu exited 1' } } },
  { type: 'image', time: T, target: 'tiny', data: { status: 'ready' } },
  { type: 'instance', time: T, target: 'c1', data: { oom: true, oomKills: 2 } },
  { type: 'network', time: T, target: 'br0', data: { action: 'forward-created', forward: 'fw-1' } },
];

test('event names carry what the event is about', () => {
  assert.deepEqual(EVENTS.map(eventName), ['instance.state', 'operation.failure', 'image.status', 'instance.oom', 'network.forward-created']);
});

test('--type filters: bare type, exact name, glob, comma lists and repeats', () => {
  const pick = (...v: string[]) => EVENTS.filter(typeFilter(v)).map(eventName);
  assert.deepEqual(pick(), EVENTS.map(eventName));
  assert.deepEqual(pick('instance'), ['instance.state', 'instance.oom']);
  assert.deepEqual(pick('instance.state'), ['instance.state']);
  assert.deepEqual(pick('operation.*'), ['operation.failure']);
  assert.deepEqual(pick('operation.success'), []);
  assert.deepEqual(pick('image,network.*', 'instance.oom'), ['image.status', 'instance.oom', 'network.forward-created']);
  assert.deepEqual(pick('inst'), [], 'a prefix of a type is not the type');
  assert.throws(() => typeFilter(['instance state']), /--type "instance state" must look like/);
});

test('table rows are readable: time to the second, full type, target, a short summary, no JSON', () => {
  const rows = EVENTS.map(eventRow);
  assert.match(rows[0]!, /^2026-12-04 20:03:08 {2}instance\.state +vm1 +now running$/);
  assert.match(rows[1]!, /operation\.failure +vm1 +instance\.start op-012345678 failure: qemu exited 1$/);
  assert.match(rows[3]!, /out of memory: 2 process\(es\) killed$/);
  for (const r of rows) assert.doesNotMatch(r, /[{}"]/);
});

let server: Server;
let url = '';
before(async () => {
  server = createServer((_q, r) => r.writeHead(404).end());
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => {
      for (const e of EVENTS) ws.send(JSON.stringify(e));
      ws.close();
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

const HARNESS = `
import { buildProgram } from ${JSON.stringify(new URL('../program.js', import.meta.url).href)};
import { reportError } from ${JSON.stringify(new URL('../errors.js', import.meta.url).href)};
try { await buildProgram().parseAsync(process.argv); } catch (e) { process.exitCode = reportError(e); }
`;
function nimbo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', HARNESS, 'nimbo', ...args], { env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent', NIMBO_URL: url, NIMBO_TOKEN: 't' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('nimbo events --type ... -o json prints one JSON object per matching event', async () => {
  const r = await nimbo(['events', '--type', 'operation.*', '--type', 'image', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.deepEqual(lines.map((l) => JSON.parse(l) as Event), [EVENTS[1], EVENTS[2]]);
});

test('nimbo events prints a header and one row per event', async () => {
  const r = await nimbo(['events', '--type', 'instance']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0]!, /^TIME \(UTC\) +TYPE +TARGET +SUMMARY$/);
  assert.equal(lines.length, 3);
  assert.match(lines[2]!, /instance\.oom +c1/);
});
