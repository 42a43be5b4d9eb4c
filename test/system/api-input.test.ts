import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDaemon, systemSkipReason } from './harness.js';
import { runArgv } from '../../src/host/exec.js';

describe('API boundary: auth, OpenAPI and bad input', { skip: systemSkipReason() }, () => {
  let d: TestDaemon;
  before(async () => {
    // A small upload limit, so an over-limit upload is cheap to send.
    d = await TestDaemon.start(['--upload-max', '8MiB']);
  });
  after(async () => d?.cleanup());

  test('health is public; everything else needs the bearer token', async () => {
    assert.equal((await d.api('GET', '/health', undefined, null)).status, 200);
    const r = await d.api('GET', '/instances', undefined, null);
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'Unauthorized');
    assert.equal((await d.api('GET', '/instances', undefined, 'nimbo_wrong')).status, 401);
    assert.equal((await d.api('GET', '/instances')).status, 200);
    // The audit's bypass: a percent-encoded spelling of a route is the same route, and needs the token.
    for (const path of ['/%61pi/v1/host', '/api/v1/%69nstances', '/api/v1/nowhere', '/index.html', '/assets/a/b']) {
      assert.equal((await fetch(`${d.url}${path}`)).status, 401, path);
    }
    // "/" is the web panel's page: public, it holds no state.
    const panel = await fetch(`${d.url}/`);
    assert.equal(panel.status, 200);
    assert.match(panel.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal((await fetch(`${d.url}/api/v1/instances?token=${d.token}`)).status, 401, 'tokens are never accepted in URLs');
  });

  test('the OpenAPI document describes the routes and their schemas', async () => {
    // The description is public (it holds no state), and so is its rendering at /api/docs.
    const r = await d.api('GET', '/openapi.json', undefined, null);
    assert.equal(r.status, 200);
    assert.equal(r.body.openapi, '3.0.3');
    const post = r.body.paths['/api/v1/instances'].post;
    assert.equal(post.requestBody.content['application/json'].schema.$ref, '#/components/schemas/InstanceCreate');
    assert.ok(r.body.components.schemas.InstanceCreate.properties.name);
    assert.equal(post.operationId, 'postInstances');
    assert.ok(r.body.paths['/api/v1/operations/{id}/wait']);
    const page = await fetch(`${d.url}/api/docs`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal((await fetch(`${d.url}/api/docs/redoc.standalone.js`)).status, 200);
  });

  test('list routes page with limit and an opaque cursor, and refuse bad ones', async () => {
    for (const g of ['a0-c', 'a0-a', 'a0-b']) assert.equal((await d.api('POST', '/security-groups', { name: g })).status, 201, g);
    const first = await d.api('GET', '/security-groups?limit=2');
    assert.equal(first.status, 200);
    assert.deepEqual(first.body.securityGroups.map((g: { name: string }) => g.name), ['a0-a', 'a0-b']);
    assert.equal(typeof first.body.next, 'string');
    // A cursor names a position in the order, so removing the item it points after changes nothing.
    assert.equal((await d.api('DELETE', '/security-groups/a0-b')).status, 204);
    // ("a0-" sorts before any group the daemon makes itself, such as "default".)
    const rest = await d.api('GET', `/security-groups?limit=1000&after=${first.body.next}`);
    assert.equal(rest.body.securityGroups[0].name, 'a0-c');
    assert.ok(!rest.body.securityGroups.some((g: { name: string }) => g.name === 'a0-b'));
    assert.equal(rest.body.next, undefined);
    for (const q of ['limit=0', 'limit=1001', 'limit=two', 'after=bogus', 'after=a%20b']) {
      const r = await d.api('GET', `/security-groups?${q}`);
      assert.equal(r.status, 400, q);
      assert.equal(r.body.error.code, 'InvalidArgument', q);
    }
    for (const g of ['a0-a', 'a0-c']) await d.api('DELETE', `/security-groups/${g}`);
  });

  test('bad names, sizes and fields get a 4xx that says what is wrong, and create nothing', async () => {
    const cases: [unknown, RegExp][] = [
      [{ name: 'Bad_Name', image: 'tiny' }, /name is not valid/],
      [{ name: 'x'.repeat(64), image: 'tiny' }, /name/],
      [{ name: 'ok', image: 'tiny', memory: 'lots' }, /memory/],
      [{ name: 'ok', image: 'tiny', colour: 'red' }, /unknown field "colour"/],
      [{ image: 'tiny' }, /missing field "name"/],
      [{ name: 'ok', image: 'tiny', cpus: 0 }, /cpus/],
    ];
    for (const [body, re] of cases) {
      const r = await d.api('POST', '/instances', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.code, 'InvalidArgument');
      assert.match(r.body.error.message, re);
    }
    const missing = await d.api('POST', '/instances', { name: 'ok', image: 'nope' });
    assert.equal(missing.status, 404);
    assert.match(missing.body.error.message, /image nope not found/);
    assert.deepEqual((await d.api('GET', '/instances')).body.instances, []);
  });

  test('the CLI prints one clear line and exits non-zero', async () => {
    const r = await d.cli('launch', 'tiny', 'Bad_Name');
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^nimbo: error: .*(invalid|not valid)/);
    const info = await d.cli('info', 'ghost');
    assert.equal(info.code, 3);
    assert.match(info.stderr, /instance ghost not found/);
  });

  test('sizes are bounded once the image exists', async () => {
    assert.equal((await d.cli('image', 'build', 'tiny', '--quiet')).code, 0);
    const tooSmall = await d.api('POST', '/instances', { name: 'small', image: 'tiny', memory: '1MiB' });
    assert.equal(tooSmall.status, 400);
    assert.match(tooSmall.body.error.message, /memory 1MiB is out of range: it must be between 64MiB and 256GiB/);
    const disk = await d.api('POST', '/instances', { name: 'small', image: 'tiny', disk: '1MiB' });
    assert.equal(disk.status, 400);
    assert.match(disk.body.error.message, /disk/);
    const dup1 = await d.api('POST', '/instances', { name: 'dup', image: 'tiny', start: false });
    assert.equal(dup1.status, 202);
    assert.match(dup1.headers.get('location') ?? '', /^\/api\/v1\/operations\/[0-9a-f-]{36}$/);
    const dup2 = await d.api('POST', '/instances', { name: 'dup', image: 'tiny', start: false });
    assert.equal(dup2.status, 409);
    const waited = await d.api('GET', `/operations/${dup1.body.operation.id}/wait?timeout=60`);
    assert.equal(waited.body.status, 'success');
    assert.equal((await d.api('DELETE', '/instances/dup')).status, 202);
  });

  test('image upload: a qcow2 streamed from the CLI is imported and listed; over the limit 413, short or broken bodies leave no file', { timeout: 120_000 }, async () => {
    const work = mkdtempSync(join(tmpdir(), `nimbo-${d.prefix}-up-`));
    const leftovers = () => readdirSync(join(d.stateDir, 'images')).filter((f) => f.startsWith('.build-'));
    try {
      const small = join(work, 'small.qcow2');
      await runArgv(['qemu-img', 'create', '-q', '-f', 'qcow2', small, '64M']);
      const up = await d.cli('image', 'upload', small, '--name', 'up1');
      assert.equal(up.code, 0, up.stderr);
      assert.match(up.stderr, /uploading: 100%/);
      const listed = await d.cliJson<{ name: string; status: string; format: string }[]>('image', 'list');
      assert.deepEqual(listed.filter((i) => i.name === 'up1').map((i) => i.status), ['ready']);
      // Over --upload-max: refused from its Content-Length, before a byte is written.
      const big = join(work, 'big.raw');
      await runArgv(['qemu-img', 'create', '-q', '-f', 'raw', big, '9M']);
      const r = await d.cli('image', 'upload', big, '--name', 'big');
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /the upload is 9437184 bytes \(9MiB\), above this daemon's limit of 8388608 bytes \(8MiB; nimbo daemon --upload-max\)/);
      const direct = await rawUpload(d.url, d.token, 'big', { 'content-length': String(9 * 1024 * 1024) }, Buffer.alloc(0));
      assert.match(direct, /^HTTP\/1\.1 413 /);
      assert.match(direct, /above this daemon's limit/);
      const noLength = await rawUpload(d.url, d.token, 'big', { 'transfer-encoding': 'chunked' }, Buffer.from('5\r\nhello\r\n0\r\n\r\n'));
      assert.match(noLength, /^HTTP\/1\.1 411 /);
      // A body that ends short (the client went away) and a file that is no disk image: nothing stays.
      await rawUpload(d.url, d.token, 'short', { 'content-length': String(4 * 1024 * 1024) }, Buffer.alloc(1000), true);
      const junk = join(work, 'junk.raw');
      writeFileSync(junk, Buffer.alloc(2 * 1024 * 1024, 1));
      const bad = await d.cli('image', 'upload', junk, '--name', 'junk');
      assert.equal(bad.code, 2, 'the import refused it as invalid input');
      assert.match(bad.stderr, /does not look like a bootable disk image/);
      const names = (await d.cliJson<{ name: string }[]>('image', 'list')).map((i) => i.name);
      assert.deepEqual(names.filter((n) => ['big', 'short', 'junk'].includes(n)), []);
      for (let i = 0; i < 50 && leftovers().length; i++) await new Promise((ok) => setTimeout(ok, 100));
      assert.deepEqual(leftovers(), []);
      assert.deepEqual(readdirSync(join(d.stateDir, 'images')).filter((f) => ['big', 'short', 'junk'].includes(f)), []);
      assert.equal((await d.cli('image', 'delete', 'up1', '-q')).code, 0);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

/** POST /images/upload?name= over a raw socket (headers exactly as given); the answer's text ('' when cut off first). */
function rawUpload(url: string, token: string, name: string, headers: Record<string, string>, body: Buffer, hangUp = false): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname);
    let got = '';
    sock.on('connect', () => {
      const lines = [`POST /api/v1/images/upload?name=${name} HTTP/1.1`, `Host: ${u.host}`, `Authorization: Bearer ${token}`, 'Content-Type: application/octet-stream', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
      sock.write(`${lines.join('\r\n')}\r\n\r\n`);
      sock.write(body);
      if (hangUp) setTimeout(() => sock.destroy(), 300);
    });
    sock.on('data', (c) => {
      got += c.toString();
      if (/\r\n\r\n[\s\S]*\}$/.test(got)) sock.destroy();
    });
    sock.on('close', () => resolve(got));
    sock.on('error', (e) => (hangUp ? resolve(got) : reject(e)));
    sock.setTimeout(20_000, () => sock.destroy());
  });
}
