// `nimbo snapshot schedule` and `nimbo info` against a tiny HTTP server that answers the schedule routes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';

const HARNESS = `
import { buildProgram } from ${JSON.stringify(new URL('../program.js', import.meta.url).href)};
import { reportError } from ${JSON.stringify(new URL('../errors.js', import.meta.url).href)};
try { await buildProgram().parseAsync(process.argv); } catch (e) { process.exitCode = reportError(e); }
`;
const SCHED = { cron: '30 2 * * MON-FRI', expiry: '7d', stateful: true, lastRun: '2026-12-04T20:00:00.000Z', nextRun: '2026-12-07T02:30:00.000Z' };
const INSTANCE = { name: 'vm1', type: 'vm', state: 'running', image: 'tiny', cpus: 1, memoryMiB: 256, disks: [], nics: [], createdAt: '2026-12-04T20:00:00.000Z', updatedAt: '2026-12-04T20:00:00.000Z' };
let server: Server;
let url = '';
const puts: unknown[] = [];

before(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const send = (code: number, body: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.url === '/api/v1/instances/vm1/snapshot-schedule' && req.method === 'GET') return send(200, SCHED);
      if (req.url === '/api/v1/instances/vm1/snapshot-schedule' && req.method === 'PUT') {
        puts.push(JSON.parse(text));
        return send(200, SCHED);
      }
      if (req.url === '/api/v1/instances/vm1' || req.url === '/api/v1/instances/vm2') return send(200, { ...INSTANCE, name: req.url.split('/').pop() });
      send(404, { error: { code: 'NotFound', message: `no route ${req.method} ${req.url}` } });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

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

test('schedule show prints the real cron, expiry, stateful and next run', async () => {
  const r = await nimbo(['snapshot', 'schedule', 'show', 'vm1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /cron:\s+30 2 \* \* MON-FRI \(UTC\)/);
  assert.match(r.stdout, /expiry:\s+7d/);
  assert.match(r.stdout, /stateful:\s+yes/);
  assert.match(r.stdout, /next run:\s+2026-12-07T02:30:00.000Z/);
  const j = await nimbo(['snapshot', 'schedule', 'show', 'vm1', '-o', 'json']);
  assert.deepEqual(JSON.parse(j.stdout), SCHED);
});

test('setting a schedule prints the values the daemon stored, not the field names', async () => {
  const r = await nimbo(['snapshot', 'schedule', 'vm1', '30 2 * * MON-FRI', '--expiry', '7d', '--stateful']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(puts.at(-1), { cron: '30 2 * * MON-FRI', expiry: '7d', stateful: true });
  assert.doesNotMatch(r.stdout, /cron: cron/);
  assert.match(r.stdout, /expiry:\s+7d/);
});

test('schedule show of an instance without one says how to set it; info shows the schedule or none', async () => {
  const r = await nimbo(['snapshot', 'schedule', 'show', 'vm2']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /vm2 has no snapshot schedule \(set one with: nimbo snapshot schedule vm2/);
  const i1 = await nimbo(['info', 'vm1']);
  assert.equal(i1.code, 0, i1.stderr);
  assert.match(i1.stdout, /Snapshot schedule:\s+30 2 \* \* MON-FRI, keep 7d, stateful; next 2026-12-07T02:30:00.000Z/);
  assert.match((await nimbo(['info', 'vm2'])).stdout, /Snapshot schedule:\s+none/);
  assert.deepEqual(JSON.parse((await nimbo(['info', 'vm1', '-o', 'json'])).stdout).snapshotSchedule, SCHED);
});
