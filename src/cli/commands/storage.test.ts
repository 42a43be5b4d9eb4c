import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Operation } from '../../shared/api-types.js';
import type { Pool, Snapshot, Volume } from '../../shared/storage-types.js';
import { ApiClient } from '../client.js';
import { CliError } from '../errors.js';
import { FakeDaemon, type SeenRequest } from '../fake-daemon.js';
import { cloneBody, describeLimits, limitsBody, parseRate, poolCreateBody } from './storage.js';

const GiB = 2 ** 30;

function samplePool(over: Partial<Pool> = {}): Pool {
  return {
    name: 'default', driver: 'dir', path: '/var/lib/nimbo/pools/default', format: 'qcow2', size: 100 * GiB, used: 30 * GiB,
    available: 70 * GiB, provisioned: 150 * GiB, overProvisioning: 1.5, volumes: 1, capabilities: { formats: ['qcow2'], snapshots: true },
    createdAt: '2024-01-01T00:00:00.000Z', ...over,
  };
}

function sampleVolume(over: Partial<Volume> = {}): Volume {
  return {
    name: 'data', pool: 'default', kind: 'block', format: 'qcow2', size: 10 * GiB, allocated: 2 ** 20, snapshots: 1, linked: false,
    attachedTo: null, limits: { iopsRead: 0, iopsWrite: 0, bytesRead: 0, bytesWrite: 0 }, ...over,
  };
}

/**
 * The storage routes of nimbod in front of the shared FakeDaemon: storage requests are answered here
 * (202 + an operation of the inner fake), everything else (operation waits, instances) is passed through.
 */
class StorageFake {
  readonly inner = new FakeDaemon();
  readonly token = this.inner.token;
  readonly seen: SeenRequest[] = [];
  pools: Pool[] = [samplePool()];
  volumes: Volume[] = [sampleVolume()];
  snapshots: Snapshot[] = [{ name: 'snap1', createdAt: '2024-01-01T00:00:00.000Z', vmStateBytes: 0 }];
  url = '';
  private server?: Server;

  async start(): Promise<string> {
    await this.inner.start();
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
    await this.inner.stop();
  }

  /** The last storage request seen with this method. */
  last(method?: string): SeenRequest | undefined {
    return this.seen.filter((s) => !s.path.includes('/operations/') && (!method || s.method === method)).at(-1);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString();
    const body = text ? JSON.parse(text) : undefined;
    this.seen.push({ method: req.method ?? '', path: u.pathname, query: u.searchParams, auth: req.headers.authorization, body });
    const send = (status: number, data: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(data));
    };
    const fail = (status: number, code: string, message: string) => send(status, { error: { code, message } });
    const accepted = (kind: string, target: string) => send(202, { operation: this.inner.newOp(kind, target) });
    const p = u.pathname.replace(/^\/api\/v1/, '');
    const seg = p.split('/').filter(Boolean).map(decodeURIComponent);
    const m = req.method;
    const storage = seg[0] === 'storage' && seg[1] === 'pools';
    const instVolumes = seg[0] === 'instances' && seg[2] === 'volumes';
    if (!storage && !instVolumes) return this.forward(req, res, text);
    if (req.headers.authorization !== `Bearer ${this.token}`) return fail(401, 'Unauthorized', 'missing or invalid token');
    if (instVolumes) {
      if (!this.inner.instances.some((i) => i.name === seg[1])) return fail(404, 'NotFound', `instance ${seg[1]} not found`);
      if (m === 'POST' && seg.length === 3) return accepted('volume.attach', seg[1]!);
      if (m === 'DELETE' && seg.length === 5) return accepted('volume.detach', seg[1]!);
      return fail(404, 'NotFound', `no route ${m} ${u.pathname}`);
    }
    if (seg.length === 2 && m === 'GET') return send(200, { pools: this.pools });
    if (seg.length === 2 && m === 'POST') {
      if (this.pools.some((x) => x.name === body.name)) return fail(409, 'Conflict', `storage pool ${body.name} already exists`);
      this.pools.push(samplePool({ name: body.name, driver: body.driver, path: body.path ?? `/var/lib/nimbo/pools/${body.name}`, volumes: 0 }));
      return accepted('pool.create', body.name);
    }
    const pool = this.pools.find((x) => x.name === seg[2]);
    if (!pool) return fail(404, 'NotFound', `storage pool ${seg[2]} not found`);
    if (seg.length === 3 && m === 'GET') return send(200, pool);
    if (seg.length === 3 && m === 'DELETE') return accepted('pool.delete', pool.name);
    if (seg.length === 4 && seg[3] === 'import' && m === 'POST') return accepted('volume.import', `${pool.name}/${body.name}`);
    if (seg[3] !== 'volumes') return fail(404, 'NotFound', `no route ${m} ${u.pathname}`);
    if (seg.length === 4 && m === 'GET') return send(200, { volumes: this.volumes.filter((v) => v.pool === pool.name) });
    if (seg.length === 4 && m === 'POST') return accepted('volume.create', `${pool.name}/${body.name}`);
    const vol = this.volumes.find((v) => v.pool === pool.name && v.name === seg[4]);
    if (!vol) return fail(404, 'NotFound', `volume ${pool.name}/${seg[4]} not found`);
    const target = `${pool.name}/${vol.name}`;
    const route = `${m} ${seg.slice(5).map((s, i) => (i === 1 ? ':s' : s)).join('/')}`;
    switch (route) {
      case 'GET ':
        return send(200, vol);
      case 'PATCH ':
        return accepted('volume.update', target);
      case 'DELETE ':
        return accepted('volume.delete', target);
      case 'POST clone':
        return accepted('volume.clone', target);
      case 'POST export':
        return accepted('volume.export', target);
      case 'GET snapshots':
        return send(200, { snapshots: this.snapshots });
      case 'POST snapshots':
        return accepted('snapshot.create', target);
      case 'DELETE snapshots/:s':
        return accepted('snapshot.delete', target);
      case 'POST snapshots/:s/restore':
        return accepted('snapshot.restore', target);
      default:
        return fail(404, 'NotFound', `no route ${m} ${u.pathname}`);
    }
  }

  private async forward(req: IncomingMessage, res: ServerResponse, text: string): Promise<void> {
    const headers: Record<string, string> = {};
    for (const h of ['authorization', 'content-type', 'accept']) if (req.headers[h]) headers[h] = String(req.headers[h]);
    const r = await fetch(`${this.inner.url}${req.url}`, { method: req.method, headers, body: text || undefined });
    res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
    res.end(await r.text());
  }
}

const fake = new StorageFake();
const home = mkdtempSync(join(tmpdir(), 'nimbo-storage-'));
let client: ApiClient;
const HARNESS = `
import { buildProgram } from ${JSON.stringify(new URL('../program.js', import.meta.url).href)};
import { reportError } from ${JSON.stringify(new URL('../errors.js', import.meta.url).href)};
try { await buildProgram().parseAsync(process.argv); } catch (e) { process.exitCode = reportError(e); }
`;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function nimbo(args: string[], cwd = home): Promise<Result> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', HARNESS, 'nimbo', ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: home, NIMBO_URL: fake.url, NIMBO_TOKEN: fake.token, NIMBO_STATE_DIR: home },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end();
  });
}

/** Run a command that must succeed quietly; returns the last storage request it made. */
async function quiet(args: string[]): Promise<SeenRequest | undefined> {
  const r = await nimbo([...args, '-q']);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', ''], `nimbo ${args.join(' ')}: ${r.stderr}`);
  return fake.last();
}

before(async () => {
  client = new ApiClient(await fake.start(), fake.token);
});
after(async () => {
  await fake.stop();
  rmSync(home, { recursive: true, force: true });
});

test('client: every storage call uses its method, path and body', async () => {
  const V = '/api/v1/storage/pools/default/volumes/data';
  const calls: [() => Promise<unknown>, string, string, unknown?][] = [
    [() => client.createPool({ name: 'fast', driver: 'btrfs', path: '/srv/fast' }), 'POST', '/api/v1/storage/pools', { name: 'fast', driver: 'btrfs', path: '/srv/fast' }],
    [() => client.deletePool('fast'), 'DELETE', '/api/v1/storage/pools/fast'],
    [() => client.createVolume('default', { name: 'db', size: '20GiB', kind: 'block' }), 'POST', '/api/v1/storage/pools/default/volumes', { name: 'db', size: '20GiB', kind: 'block' }],
    [() => client.patchVolume('default', 'data', { size: '20GiB' }), 'PATCH', V, { size: '20GiB' }],
    [() => client.deleteVolume('default', 'data'), 'DELETE', V],
    [() => client.cloneVolume('default', 'data', { target: 'copy', mode: 'full' }), 'POST', `${V}/clone`, { target: 'copy', mode: 'full' }],
    [() => client.importVolume('default', { name: 'disk', path: '/tmp/d.qcow2' }), 'POST', '/api/v1/storage/pools/default/import', { name: 'disk', path: '/tmp/d.qcow2' }],
    [() => client.exportVolume('default', 'data', { path: '/tmp/out.raw', format: 'raw' }), 'POST', `${V}/export`, { path: '/tmp/out.raw', format: 'raw' }],
    [() => client.createSnapshot('default', 'data', 's2'), 'POST', `${V}/snapshots`, { name: 's2' }],
    [() => client.restoreSnapshot('default', 'data', 'snap1'), 'POST', `${V}/snapshots/snap1/restore`],
    [() => client.deleteSnapshot('default', 'data', 'snap1'), 'DELETE', `${V}/snapshots/snap1`],
    [() => client.attachVolume('vm1', { pool: 'default', volume: 'data' }), 'POST', '/api/v1/instances/vm1/volumes', { pool: 'default', volume: 'data' }],
    [() => client.detachVolume('vm1', 'default', 'data'), 'DELETE', '/api/v1/instances/vm1/volumes/default/data'],
  ];
  for (const [call, method, path, body] of calls) {
    const op = (await call()) as Operation;
    assert.match(op.id, /^op-\d+$/, `${method} ${path}`);
    const seen = fake.last();
    assert.deepEqual([seen?.method, seen?.path, seen?.body], [method, path, body]);
    assert.equal(seen?.auth, 'Bearer secret');
  }
  await client.deleteVolume('default', 'data', true);
  assert.equal(fake.last()?.query.get('force'), 'true');
  assert.deepEqual(await client.listPools(), fake.pools);
  assert.deepEqual(await client.getPool('default'), fake.pools[0]);
  assert.deepEqual(await client.listVolumes('default'), fake.volumes);
  assert.deepEqual(await client.getVolume('default', 'data'), fake.volumes[0]);
  assert.deepEqual(await client.listSnapshots('default', 'data'), fake.snapshots);
  fake.pools = fake.pools.filter((p) => p.name !== 'fast');
});

test('client: an error body becomes a one-line CliError with the server code', async () => {
  const err = await client.getVolume('default', 'ghost').catch((e: unknown) => e);
  assert.ok(err instanceof CliError);
  assert.deepEqual([err.message, err.code, err.status], ['volume default/ghost not found', 'NotFound', 404]);
});

test('body builders', () => {
  assert.deepEqual(poolCreateBody('p', { driver: 'dir' }), { name: 'p', driver: 'dir' });
  assert.deepEqual(poolCreateBody('p', { driver: 'dir', path: 'rel/dir', format: 'raw' }), { name: 'p', driver: 'dir', path: join(process.cwd(), 'rel/dir'), format: 'raw' });
  assert.deepEqual(cloneBody('t', {}), { target: 't' });
  assert.deepEqual(cloneBody('t', { full: true, fromSnapshot: 's1' }), { target: 't', mode: 'full', fromSnapshot: 's1' });
  assert.deepEqual(limitsBody({ iopsRead: 0, bpsWrite: 1024 }), { iopsRead: 0, bytesWrite: 1024 });
  assert.throws(() => limitsBody({}), /nothing to set/);
  assert.equal(describeLimits({ iopsRead: 500, iopsWrite: 0, bytesRead: 10 * 2 ** 20, bytesWrite: 0 }), 'iops-read 500, iops-write unlimited, bps-read 10MiB/s, bps-write unlimited');
  assert.equal(parseRate('0'), 0);
  assert.equal(parseRate('10MiB/s'), 10 * 2 ** 20);
  assert.equal(parseRate('1.5G'), 1.5 * GiB);
  assert.throws(() => parseRate('fast', '--bps-read'), /invalid --bps-read "fast"/);
  assert.throws(() => parseRate('2000P', '--bps-read'), /too large/);
});

test('pool create follows the operation and names the resulting path', async () => {
  const r = await nimbo(['storage', 'pool', 'create', 'fast', '--driver', 'btrfs', '--path', 'pools/fast', '--format', 'raw']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, 'progress 0%\nstep to 50%\nprogress 50%\nstep to 100%\nprogress 100%\n');
  assert.equal(r.stdout, `Created pool fast (btrfs at ${join(home, 'pools/fast')}, 70GiB available)\n`);
  assert.deepEqual(fake.last('POST')?.body, { name: 'fast', driver: 'btrfs', path: join(home, 'pools/fast'), format: 'raw' });
  const d = await quiet(['storage', 'pool', 'rm', 'fast']);
  assert.deepEqual([d?.method, d?.path], ['DELETE', '/api/v1/storage/pools/fast']);
  fake.pools = fake.pools.filter((p) => p.name !== 'fast');
});

test('pool list and info: table and json', async () => {
  const t = await nimbo(['storage', 'pool', 'ls']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /^NAME\s+DRIVER\s+FORMAT\s+SIZE\s+USED\s+AVAILABLE\s+PROVISIONED\s+RATIO\s+VOLUMES\s+PATH\ndefault\s+dir\s+qcow2\s+100GiB\s+30GiB\s+70GiB\s+150GiB\s+1\.5x\s+1\s+\/var\/lib\/nimbo\/pools\/default\n$/);
  const i = await nimbo(['storage', 'pool', 'info', 'default']);
  assert.match(i.stdout, /^Over-provisioning:  1\.5x$/m);
  assert.match(i.stdout, /^Capabilities:       formats=qcow2, snapshots$/m);
  const j = await nimbo(['storage', 'pool', 'info', 'default', '-o', 'json']);
  assert.deepEqual(JSON.parse(j.stdout), fake.pools[0]);
});

test('volume list and info: table and yaml', async () => {
  const t = await nimbo(['storage', 'vol', 'ls', 'default']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /^NAME\s+KIND\s+FORMAT\s+SIZE\s+ALLOCATED\s+SNAPSHOTS\s+LINKED\s+ATTACHED\s+LIMITS\ndata\s+block\s+qcow2\s+10GiB\s+1MiB\s+1\s+no\s+-\s+-\n$/);
  const i = await nimbo(['storage', 'volume', 'info', 'default', 'data']);
  assert.match(i.stdout, /^Size:             10GiB$/m);
  const y = await nimbo(['storage', 'volume', 'info', 'default', 'data', '-o', 'yaml']);
  assert.match(y.stdout, /^name: data\npool: default\n/);
  const s = await nimbo(['storage', 'volume', 'snapshot', 'ls', 'default', 'data']);
  assert.match(s.stdout, /^NAME\s+VM STATE\s+CREATED\s+AGE\nsnap1\s+-\s+2024-01-01T00:00:00\.000Z\s+\d+d\n$/);
});

test('volume commands send the right requests', async () => {
  const V = '/api/v1/storage/pools/default/volumes/data';
  const cases: [string[], string, string, unknown?][] = [
    [['storage', 'volume', 'create', 'default', 'db', '--size', '20GiB', '--kind', 'filesystem'], 'POST', '/api/v1/storage/pools/default/volumes', { name: 'db', size: '20GiB', kind: 'filesystem' }],
    [['storage', 'volume', 'create', 'default', 'db', '--size', '1G'], 'POST', '/api/v1/storage/pools/default/volumes', { name: 'db', size: '1G' }],
    [['storage', 'volume', 'resize', 'default', 'data', '20GiB'], 'PATCH', V, { size: '20GiB' }],
    [['storage', 'volume', 'rename', 'default', 'data', 'data2'], 'PATCH', V, { name: 'data2' }],
    [['storage', 'volume', 'limits', 'default', 'data', '--iops-read', '500', '--bps-write', '10MiB/s', '--iops-write', '0'], 'PATCH', V, { limits: { iopsRead: 500, iopsWrite: 0, bytesWrite: 10 * 2 ** 20 } }],
    [['storage', 'volume', 'clone', 'default', 'data', 'copy'], 'POST', `${V}/clone`, { target: 'copy' }],
    [['storage', 'volume', 'clone', 'default', 'data', 'copy', '--full', '--from-snapshot', 'snap1'], 'POST', `${V}/clone`, { target: 'copy', mode: 'full', fromSnapshot: 'snap1' }],
    [['storage', 'volume', 'export', 'default', 'data', 'out.raw', '--format', 'raw'], 'POST', `${V}/export`, { path: join(home, 'out.raw'), format: 'raw' }],
    [['storage', 'volume', 'export', 'default', 'data', '/srv/out.qcow2'], 'POST', `${V}/export`, { path: '/srv/out.qcow2' }],
    [['storage', 'volume', 'snapshot', 'create', 'default', 'data', 's2'], 'POST', `${V}/snapshots`, { name: 's2' }],
    [['storage', 'volume', 'snap', 'restore', 'default', 'data', 'snap1'], 'POST', `${V}/snapshots/snap1/restore`],
    [['storage', 'volume', 'snapshot', 'rm', 'default', 'data', 'snap1'], 'DELETE', `${V}/snapshots/snap1`],
    [['storage', 'volume', 'attach', 'vm1', 'default', 'data'], 'POST', '/api/v1/instances/vm1/volumes', { pool: 'default', volume: 'data' }],
    [['storage', 'volume', 'detach', 'vm1', 'default', 'data'], 'DELETE', '/api/v1/instances/vm1/volumes/default/data'],
    [['storage', 'volume', 'delete', 'default', 'data'], 'DELETE', V],
  ];
  for (const [args, method, path, body] of cases) {
    const seen = await quiet(args);
    assert.deepEqual([seen?.method, seen?.path, seen?.body], [method, path, body], args.join(' '));
  }
  const f = await quiet(['storage', 'volume', 'rm', 'default', 'data', '--force']);
  assert.equal(f?.query.get('force'), 'true');
});

test('volume import sends an absolute path and checks a local file', async () => {
  writeFileSync(join(home, 'disk.qcow2'), 'x');
  const seen = await quiet(['storage', 'volume', 'import', 'default', 'disk.qcow2', '--name', 'disk', '--format', 'qcow2']);
  assert.deepEqual([seen?.method, seen?.path, seen?.body], ['POST', '/api/v1/storage/pools/default/import', { name: 'disk', path: join(home, 'disk.qcow2'), format: 'qcow2' }]);
  const before = fake.seen.length;
  const missing = await nimbo(['storage', 'volume', 'import', 'default', '/nonexistent/x.qcow2', '--name', 'x']);
  assert.deepEqual([missing.code, missing.stderr], [1, 'nimbo: error: /nonexistent/x.qcow2: no such file\n']);
  assert.equal(fake.seen.length, before);
});

test('summary lines and --no-wait', async () => {
  const a = await nimbo(['storage', 'volume', 'attach', 'vm1', 'default', 'data']);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, 'Attached default/data to vm1\n');
  const l = await nimbo(['storage', 'volume', 'limits', 'default', 'data', '--bps-read', '0', '--iops-write', '100']);
  assert.equal(l.stdout, 'Set I/O limits of default/data: iops-write 100, bps-read unlimited\n');
  const n = await nimbo(['storage', 'volume', 'snapshot', 'create', 'default', 'data', 's3', '--no-wait']);
  assert.deepEqual([n.code, n.stderr], [0, '']);
  assert.match(n.stdout, /^op-\d+\n$/);
});

test('bad arguments are caught before any request', async () => {
  const before = fake.seen.length;
  const cases: [string[], RegExp][] = [
    [['storage', 'pool', 'create', 'p1'], /required option '--driver <driver>' not specified/],
    [['storage', 'pool', 'create', 'p1', '--driver', 'zfs'], /argument 'zfs' is invalid\. Allowed choices are dir, btrfs\./],
    [['storage', 'volume', 'create', 'default', 'Bad_Name', '--size', '1GiB'], /invalid volume name "Bad_Name"/],
    [['storage', 'volume', 'create', 'default', 'db', '--size', '512'], /size "512" is only 512 bytes; add a unit/],
    [['storage', 'volume', 'create', 'default', 'db'], /required option '--size <size>' not specified/],
    [['storage', 'volume', 'resize', 'default', 'data', 'big'], /invalid size "big"/],
    [['storage', 'volume', 'limits', 'default', 'data'], /nothing to set: give --iops-read/],
    [['storage', 'volume', 'limits', 'default', 'data', '--iops-read', '-1'], /--iops-read must be a whole number from 0 to 1000000000/],
    [['storage', 'volume', 'limits', 'default', 'data', '--bps-write', 'lots'], /invalid --bps-write "lots"/],
    [['storage', 'volume', 'snapshot', 'create', 'default', 'data', 'Snap!'], /invalid snapshot name "Snap!"/],
    [['storage', 'volume', 'export', 'default', 'data', 'f', '--format', 'vmdk'], /Allowed choices are qcow2, raw\./],
  ];
  for (const [args, re] of cases) {
    const r = await nimbo(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, new RegExp(`^nimbo: error: .*${re.source}.*\\n$`), args.join(' '));
  }
  assert.equal(fake.seen.length, before);
});

test('API errors are one line on stderr with their exit codes', async () => {
  const r = await nimbo(['storage', 'volume', 'info', 'default', 'ghost']);
  assert.deepEqual([r.code, r.stdout, r.stderr], [3, '', 'nimbo: error: volume default/ghost not found\n']);
  const c = await nimbo(['storage', 'pool', 'create', 'default', '--driver', 'dir']);
  assert.deepEqual([c.code, c.stderr], [4, 'nimbo: error: storage pool default already exists\n']);
  fake.inner.finalStatus = 'failure';
  try {
    const f = await nimbo(['storage', 'volume', 'resize', 'default', 'data', '1TiB', '-q']);
    assert.deepEqual([f.code, f.stderr], [1, 'nimbo: error: qemu-img failed (exit 1): no space left on device\n']);
  } finally {
    fake.inner.finalStatus = 'success';
  }
});
