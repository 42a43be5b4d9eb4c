import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDownloadUrl, download, fetchText, redactUrl } from './http-download.js';
import { parseRange } from './http-range.js';

const DATA = randomBytes(3 * 1024 * 1024 + 17);
const SHA = createHash('sha256').update(DATA).digest('hex');

/** A file server: `cut(n)` says after how many bytes the n-th request's answer is broken off (undefined: never). */
async function serve(cut: (n: number) => number | undefined, opts: { etag?: string; ignoreRange?: boolean } = {}) {
  let n = 0;
  const ranges: (string | undefined)[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/redirect') return res.writeHead(302, { location: '/file.img' }).end();
    if (req.url === '/loop') return res.writeHead(302, { location: '/loop' }).end();
    if (req.url === '/ftp') return res.writeHead(302, { location: 'ftp://x/y' }).end();
    if (req.url !== '/file.img') return res.writeHead(404).end();
    ranges.push(req.headers.range);
    const limit = cut(n++);
    const r = opts.ignoreRange || (req.headers['if-range'] && req.headers['if-range'] !== (opts.etag ?? '"v1"')) ? undefined : parseRange(req.headers.range, DATA.length);
    const start = r && r !== 'unsatisfiable' ? r.start : 0;
    const body = DATA.subarray(start);
    res.writeHead(r && r !== 'unsatisfiable' ? 206 : 200, {
      'content-length': String(body.length), etag: opts.etag ?? '"v1"',
      ...(r && r !== 'unsatisfiable' ? { 'content-range': `bytes ${start}-${DATA.length - 1}/${DATA.length}` } : {}),
    });
    if (limit === undefined) return res.end(body);
    res.write(body.subarray(0, limit), () => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { url, ranges, close: () => new Promise((r) => server.close(r)) };
}

const tmp = () => mkdtempSync(join(tmpdir(), 'nimbo-dl-'));

test('a whole download: bytes on disk, their sha256, no resume', async () => {
  const s = await serve(() => undefined);
  const dir = tmp();
  try {
    const r = await download(new URL(`${s.url}/redirect`), join(dir, 'f'), { maxBytes: 1e9 });
    assert.deepEqual({ ...r }, { bytes: DATA.length, sha256: SHA, resumes: 0 });
    assert.ok(readFileSync(join(dir, 'f')).equals(DATA));
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cut download resumes with Range and If-Range at the bytes on disk, and the result is whole', async () => {
  const s = await serve((n) => (n < 2 ? 1024 * 1024 + n * 7 : undefined));
  const dir = tmp();
  const resumed: number[] = [];
  try {
    const r = await download(new URL(`${s.url}/file.img`), join(dir, 'f'), { maxBytes: 1e9, retryDelayMs: 10, onResume: (from) => resumed.push(from) });
    assert.equal(r.sha256, SHA);
    assert.equal(r.resumes, 2);
    assert.ok(readFileSync(join(dir, 'f')).equals(DATA));
    assert.equal(s.ranges[0], undefined);
    assert.match(s.ranges[1]!, /^bytes=\d+-$/);
    assert.ok(resumed.every((b) => b > 0), `resumed at ${resumed.join(', ')}`);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a server that ignores Range sends the whole file again: the download starts over and is still right', async () => {
  const s = await serve((n) => (n === 0 ? 500_000 : undefined), { ignoreRange: true });
  const dir = tmp();
  try {
    const r = await download(new URL(`${s.url}/file.img`), join(dir, 'f'), { maxBytes: 1e9, retryDelayMs: 10 });
    assert.equal(r.sha256, SHA);
    assert.equal(readFileSync(join(dir, 'f')).length, DATA.length);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a server that keeps cutting fails after the retries; too large, 404, redirect loops and ftp redirects fail at once', async () => {
  const s = await serve(() => 1000);
  const dir = tmp();
  try {
    await assert.rejects(download(new URL(`${s.url}/file.img`), join(dir, 'a'), { maxBytes: 1e9, retries: 2, retryDelayMs: 5 }), /failed after 3 tries \(2 resumes\)/);
    await assert.rejects(download(new URL(`${s.url}/file.img`), join(dir, 'b'), { maxBytes: 1000 }), (e: Error & { code?: string }) => e.code === 'TooLarge');
    await assert.rejects(download(new URL(`${s.url}/nope`), join(dir, 'c'), { maxBytes: 1e9 }), /answered HTTP 404/);
    await assert.rejects(download(new URL(`${s.url}/loop`), join(dir, 'd'), { maxBytes: 1e9 }), /more than 5 redirects/);
    await assert.rejects(download(new URL(`${s.url}/ftp`), join(dir, 'e'), { maxBytes: 1e9 }), /only http:\/\/ and https:\/\//);
    await assert.rejects(fetchText(new URL(`${s.url}/nope`)), /HTTP 404/);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cancelled download stops with Cancelled', async () => {
  const s = await serve(() => undefined);
  const dir = tmp();
  try {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(download(new URL(`${s.url}/file.img`), join(dir, 'f'), { maxBytes: 1e9, signal: ac.signal }), (e: Error & { code?: string }) => e.code === 'Cancelled');
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkDownloadUrl takes http(s) only, without credentials; redactUrl hides the query', () => {
  assert.equal(checkDownloadUrl('https://example.org/a.qcow2#x').href, 'https://example.org/a.qcow2');
  assert.throws(() => checkDownloadUrl('ftp://example.org/a'), /only http:\/\/ and https:\/\//);
  assert.throws(() => checkDownloadUrl('file:///etc/passwd'), /only http:\/\/ and https:\/\//);
  assert.throws(() => checkDownloadUrl('https://u:p@example.org/a'), /must not carry a user or password/);
  assert.throws(() => checkDownloadUrl('not a url'), /not a valid URL/);
  assert.equal(redactUrl(new URL('https://h/a.img?sig=secret')), 'https://h/a.img?…');
});
