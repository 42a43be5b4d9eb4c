import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDaemon, systemSkipReason } from './harness.js';
import { parseRange } from '../../src/host/http-range.js';

const skip = systemSkipReason();
const MIN = 60_000;

interface Img {
  name: string;
  source: string;
  status: string;
  boot: string;
}

/** A raw disk of 2 MiB with a boot signature (what `image import` accepts as raw), its bytes varying with `seed`. */
function rawDisk(seed: number): Buffer {
  const b = Buffer.alloc(2 * 1024 * 1024);
  for (let i = 0; i < b.length; i += 4096) b.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
  b[510] = 0x55;
  b[511] = 0xaa;
  return b;
}

/**
 * The test's own file server on loopback: /good.img, /SHA256SUMS, /cut-once.img (the first answer broken off halfway),
 * /cut-always.img (every answer broken off). Ranges with If-Range are honoured; `ranges` records what was asked.
 */
async function fileServer(disk: Buffer) {
  const sha = createHash('sha256').update(disk).digest('hex');
  const ranges: string[] = [];
  let cutOnce = 0;
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '';
    if (path === '/SHA256SUMS') return res.end(`${'0'.repeat(64)}  other.img\n${sha}  sums.img\n`);
    if (!/^\/(good|sums|cut-once|cut-always)\.img$/.test(path)) return res.writeHead(404).end();
    if (req.headers.range) ranges.push(`${path} ${req.headers.range} if-range=${req.headers['if-range'] ?? ''}`);
    const r = req.headers['if-range'] === '"d1"' ? parseRange(req.headers.range, disk.length) : undefined;
    const start = r && r !== 'unsatisfiable' ? r.start : 0;
    const body = disk.subarray(start);
    res.writeHead(start ? 206 : 200, { 'content-length': String(body.length), etag: '"d1"', ...(start ? { 'content-range': `bytes ${start}-${disk.length - 1}/${disk.length}` } : {}) });
    const cut = path === '/cut-always.img' || (path === '/cut-once.img' && cutOnce++ === 0);
    if (!cut) return res.end(body);
    res.write(body.subarray(0, Math.min(body.length - 1, 700_000)), () => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, sha, ranges, close: () => new Promise((r) => server.close(r)) };
}

describe('images to fetch: import from URLs (checksums, resume) and an image server between two daemons (TCG)', { skip }, () => {
  let a: TestDaemon;
  let b: TestDaemon;
  let files: Awaited<ReturnType<typeof fileServer>>;
  let tmp: string;
  const leftovers = (d: TestDaemon) => readdirSync(join(d.stateDir, 'images')).filter((e) => e.includes('.build-'));
  const names = async (d: TestDaemon) => (await d.cliJson<Img[]>('image', 'list')).map((i) => `${i.name}:${i.status}`).sort();

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'nimbo-fetchtest-'));
    files = await fileServer(rawDisk(1));
    [a, b] = await Promise.all([TestDaemon.start(['--image-server']), TestDaemon.start()]);
  });
  after(async () => {
    await Promise.all([a?.cleanup(), b?.cleanup()]);
    await files?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('bad requests are refused before anything is made', async () => {
    const ftp = await b.cli('image', 'import', 'ftp://127.0.0.1/x.img', '--name', 'x1');
    assert.notEqual(ftp.code, 0);
    assert.match(ftp.stderr, /only http:\/\/ and https:\/\//);
    const api = await b.api('POST', '/images/import-url', { name: 'x1', url: 'file:///etc/passwd' });
    assert.equal(api.status, 400);
    assert.match(api.body.error.message, /only http:\/\/ and https:\/\//);
    const creds = await b.api('POST', '/images/import-url', { name: 'x1', url: `http://u:p@127.0.0.1:1/x.img` });
    assert.equal(creds.status, 400);
    assert.match(creds.body.error.message, /must not carry a user or password/);
    const badSum = await b.cli('image', 'import', `${files.url}/good.img`, '--name', 'x1', '--sha256', 'abc');
    assert.notEqual(badSum.code, 0);
    assert.match(badSum.stderr, /is not a sha256/);
    // B does not serve its images: deny by default.
    const idx = await b.api('GET', '/image-server/index');
    assert.equal(idx.status, 404);
    assert.match(idx.body.error.message, /--image-server/);
    assert.deepEqual(await names(b), []);
  });

  test('import URL: a good sha256 imports; a mismatch keeps nothing; SHA256SUMS works; a cut download resumes; one that keeps breaking is removed', { timeout: 3 * MIN }, async () => {
    const good = await b.cli('image', 'import', `${files.url}/good.img`, '--name', 'good', '--sha256', files.sha);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /Imported image good from/);

    const bad = await b.cli('image', 'import', `${files.url}/good.img`, '--name', 'bad', '--sha256', 'f'.repeat(64));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /checksum mismatch .* expected sha256 f{64}, got [0-9a-f]{64}/);

    const sums = await b.cli('image', 'import', `${files.url}/sums.img`, '--name', 'sums', '--sha256sums', `${files.url}/SHA256SUMS`);
    assert.equal(sums.code, 0, sums.stderr);
    const noLine = await b.cli('image', 'import', `${files.url}/good.img`, '--name', 'noline', '--sha256sums', `${files.url}/SHA256SUMS`);
    assert.notEqual(noLine.code, 0);
    assert.match(noLine.stderr, /no line for good\.img/);

    const once = await b.cli('image', 'import', `${files.url}/cut-once.img`, '--name', 'resumed', '--sha256', files.sha);
    assert.equal(once.code, 0, once.stderr);
    assert.ok(files.ranges.some((r) => /^\/cut-once\.img bytes=7\d{5}- if-range="d1"$/.test(r)), `resumed with Range + If-Range: ${files.ranges.join('; ')}`);
    const ops = (await b.api('GET', '/operations')).body.operations as { target: string; status: string; log: string[] }[];
    const op = ops.find((o) => o.target === 'image/resumed');
    assert.ok(op?.log.some((l) => /resuming at byte 7\d{5}/.test(l)), `the operation says it resumed: ${op?.log.join(' | ')}`);

    const always = await b.cli('image', 'import', `${files.url}/cut-always.img`, '--name', 'broken', '--sha256', files.sha);
    assert.notEqual(always.code, 0);
    assert.match(always.stderr, /failed after \d+ tries/);

    assert.deepEqual(await names(b), ['good:ready', 'resumed:ready', 'sums:ready']);
    assert.deepEqual(leftovers(b), [], 'no download or build folder is left in the images dir');
    for (const n of ['bad', 'noline', 'broken']) assert.equal((await b.api('GET', `/images/${n}`)).status, 404);
  });

  test('POST /images takes a streamed upload (application/octet-stream, ?name=) like /images/upload', async () => {
    const disk = rawDisk(7);
    const res = await fetch(`${b.url}/api/v1/images?name=posted`, { method: 'POST', headers: { authorization: `Bearer ${b.token}`, 'content-type': 'application/octet-stream' }, body: new Uint8Array(disk) });
    assert.equal(res.status, 202, await res.clone().text());
    const { operation } = (await res.json()) as { operation: { id: string } };
    const done = await b.api('GET', `/operations/${operation.id}/wait?timeout=60`);
    assert.equal(done.body.status, 'success', JSON.stringify(done.body));
    assert.ok((await names(b)).includes('posted:ready'));
  });

  test('daemon B fetches an image served by daemon A into its cache and launches it as A:tiny; the cache is reused', { timeout: 6 * MIN }, async () => {
    const built = await a.cli('image', 'build', 'tiny', '--quiet');
    assert.equal(built.code, 0, built.stderr);
    const tokenFile = join(tmp, 'a.token');
    writeFileSync(tokenFile, `${a.token}\n`, { mode: 0o600 });
    // No token: A refuses, and B refuses to add a remote that does not answer as an image server.
    const anon = await b.cli('image', 'remote', 'add', 'anon', a.url);
    assert.notEqual(anon.code, 0);
    assert.match(anon.stderr, /does not answer as an image server: .*401/);
    const add = await b.cli('image', 'remote', 'add', 'lab', a.url, '--remote-token-file', tokenFile);
    assert.equal(add.code, 0, add.stderr);
    const remotes = await b.cliJson<{ name: string; token: boolean }[]>('image', 'remote', 'list');
    assert.deepEqual(remotes.map((r) => `${r.name}:${r.token}`), ['lab:true']);
    const served = await b.cliJson<{ name: string; sha256: string; files: { name: string }[] }[]>('image', 'list', 'lab:');
    assert.deepEqual(served.map((i) => i.name), ['tiny']);
    assert.match(served[0]!.sha256, /^[0-9a-f]{64}$/);

    const launch = await b.cli('launch', 'lab:tiny', 'vm1', '--memory', '256MiB', '--quiet');
    assert.equal(launch.code, 0, launch.stderr);
    const info = await b.cliJson<{ state: string; image: string }>('info', 'vm1');
    assert.equal(info.state, 'running');
    assert.equal(info.image, 'lab:tiny');
    await b.waitConsole('vm1', /NIMBO-READY vm1/, 120_000);
    const cached = (await b.cliJson<Img[]>('image', 'list')).find((i) => i.name === 'lab:tiny');
    assert.equal(cached?.status, 'ready');
    assert.equal(cached?.source, 'remote:lab:tiny');
    const fetches = async () => ((await b.api('GET', '/operations')).body.operations as { kind: string; target: string; log: string[]; progress: number }[]).filter((o) => o.kind === 'image.fetch');
    assert.equal((await fetches()).length, 1);

    // Unchanged on A: a second launch uses the cache (no new fetch); an explicit fetch says it is up to date.
    const second = await b.cli('launch', 'lab:tiny', 'vm2', '--memory', '256MiB', '--quiet', '--no-start');
    assert.equal(second.code, 0, second.stderr);
    assert.equal((await fetches()).length, 1, 'the second launch fetched nothing');
    const again = await b.cli('image', 'fetch', 'lab:tiny');
    assert.equal(again.code, 0, again.stderr);
    // A's image changes (deleted, and another imported under the name): the next launch on B sees the new sums and refreshes.
    const file = join(tmp, 'new-tiny.img');
    writeFileSync(file, rawDisk(3));
    assert.equal((await a.cli('image', 'delete', 'tiny', '--quiet')).code, 0);
    const imp = await a.cli('image', 'import', file, '--name', 'tiny', '--quiet');
    assert.equal(imp.code, 0, imp.stderr);
    const newSha = (await b.cliJson<{ name: string; sha256: string }[]>('image', 'list', 'lab:'))[0]!.sha256;
    assert.notEqual(newSha, served[0]!.sha256);
    const third = await b.cli('launch', 'lab:tiny', 'vm3', '--quiet', '--no-start');
    assert.equal(third.code, 0, third.stderr);
    assert.equal((await fetches()).length, 3, 'the changed image was fetched again (after the launch and the explicit fetch)');
    const refreshed = (await b.cliJson<Img[]>('image', 'list')).find((i) => i.name === 'lab:tiny');
    assert.equal(refreshed?.boot, 'disk', 'the cache holds the new image');
    assert.deepEqual(leftovers(b), []);
    const rm = await b.cli('image', 'remote', 'remove', 'lab');
    assert.equal(rm.code, 0, rm.stderr);
  });

  test('an https remote is trusted with --ca-file (the other daemon\'s own CA) and refused without it', { timeout: 2 * MIN }, async () => {
    const c = await TestDaemon.start(['--tls', '--image-server']);
    try {
      assert.match(c.url, /^https:/);
      const tokenFile = join(tmp, 'c.token');
      writeFileSync(tokenFile, c.token, { mode: 0o600 });
      const no = await b.cli('image', 'remote', 'add', 'sec', c.url, '--remote-token-file', tokenFile);
      assert.notEqual(no.code, 0);
      assert.match(no.stderr, /does not answer as an image server: .*(certificate|self.signed)/i);
      const yes = await b.cli('image', 'remote', 'add', 'sec', c.url, '--remote-token-file', tokenFile, '--ca-file', join(c.stateDir, 'tls', 'ca.crt'));
      assert.equal(yes.code, 0, yes.stderr);
      assert.deepEqual(await b.cliJson<unknown[]>('image', 'list', 'sec:'), [], 'it answers with its (empty) index');
      assert.equal((await b.cli('image', 'remote', 'remove', 'sec')).code, 0);
    } finally {
      await c.cleanup();
    }
  });
});
