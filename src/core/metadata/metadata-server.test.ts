import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import { silentLogger } from '../../lib/log.js';
import { MetadataServer, METADATA_LIMITS } from './metadata-server.js';
import type { MetadataView } from './metadata-router.js';

// Loopback only: the server's identity rule (port -> NIC, peer must be that NIC's address) with 127.0.0.1
// as the "gateway" and either 127.0.0.1 (its own NIC) or 127.0.0.2 (someone else's) as the NIC address.

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function call(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const view = (id: string): MetadataView => ({ instanceId: id, hostname: id, image: 'tiny', cpus: 1, memory: 2 ** 26, localIpv4: '127.0.0.1', mac: '52:54:00:00:00:01', sshKeys: [] });

test('each port answers only for its own NIC and only its own NIC\'s address; bodies, long URLs and floods are refused', async (t) => {
  const [p1, p2] = [await freePort(), await freePort()];
  const asked: string[] = [];
  const srv = new MetadataServer(async (owner, nic) => {
    asked.push(`${owner}/${nic}`);
    return owner === 'gone' ? undefined : view(owner);
  }, { secret: Buffer.alloc(32), now: () => Date.now() }, silentLogger());
  t.after(() => srv.close());
  await srv.serve([
    { port: p1, gateway: '127.0.0.1', address: '127.0.0.1', owner: 'inst-a', nic: 'eth0' },
    { port: p2, gateway: '127.0.0.1', address: '127.0.0.2', owner: 'inst-b', nic: 'eth0' },
  ]);
  assert.deepEqual(srv.listening(), [p1, p2].sort((a, b) => a - b));

  assert.deepEqual(await call(p1, '/latest/meta-data/instance-id'), { status: 200, body: 'inst-a' });
  // Whatever the request claims, port p1 is inst-a's.
  assert.equal((await call(p1, '/latest/meta-data/instance-id?id=inst-b', { headers: { host: 'inst-b', 'x-forwarded-for': '127.0.0.2' } })).body, 'inst-a');
  // p2 belongs to a NIC with another address: the peer 127.0.0.1 gets nothing of inst-b.
  const foreign = await call(p2, '/latest/meta-data/instance-id');
  assert.equal(foreign.status, 403);
  assert.ok(!foreign.body.includes('inst-b'));
  assert.ok(!asked.includes('inst-b/eth0'), 'inst-b was never looked up');

  assert.equal((await call(p1, '/latest/meta-data/nope')).status, 404);
  assert.equal((await call(p1, '/latest/api/token', { method: 'PUT', body: 'x'.repeat(100), headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '10' } })).status, 413);
  assert.equal((await call(p1, '/' + 'a'.repeat(METADATA_LIMITS.maxUrlBytes))).status, 414);
  const big = await call(p1, '/', { headers: { 'x-big': 'y'.repeat(METADATA_LIMITS.maxHeaderBytes + 10) } }).catch(() => ({ status: 431, body: '' }));
  assert.equal(big.status, 431);

  // Rate: the bucket runs dry within a burst.
  const statuses = await Promise.all(Array.from({ length: METADATA_LIMITS.burst + 20 }, () => call(p1, '/latest/meta-data/instance-id').then((r) => r.status)));
  assert.ok(statuses.includes(429), 'a flood gets 429');

  // A NIC whose instance is gone: 404, and serve() closes ports no longer wanted.
  await srv.serve([{ port: p1, gateway: '127.0.0.1', address: '127.0.0.1', owner: 'gone', nic: 'eth0' }]);
  assert.deepEqual(srv.listening(), [p1]);
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal((await call(p1, '/latest/meta-data/instance-id')).status, 404);
  await assert.rejects(call(p2, '/'), /ECONNREFUSED/);
});
