import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { PANEL_CSP, webPanelRoutes } from './web-panel.js';

let dir: string;
let app: FastifyInstance;
let empty: FastifyInstance;
const script = `console.log(${JSON.stringify('x'.repeat(5000))});`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nimbo-web-'));
  mkdirSync(join(dir, 'built', 'assets'), { recursive: true });
  writeFileSync(join(dir, 'built', 'index.html'), '<!doctype html><div id="app"></div><script type="module" src="/assets/index-abc.js"></script>');
  writeFileSync(join(dir, 'built', 'assets', 'index-abc.js'), script);
  writeFileSync(join(dir, 'secret.txt'), 'outside the panel');
  app = Fastify();
  await webPanelRoutes(app, join(dir, 'built'));
  empty = Fastify();
  await webPanelRoutes(empty, join(dir, 'not-built'));
});
after(async () => {
  await app.close();
  await empty.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the panel page comes with a strict CSP, no caching and no framing', async () => {
  const res = await app.inject({ method: 'GET', url: '/' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/html/);
  assert.equal(res.headers['content-security-policy'], PANEL_CSP);
  assert.match(PANEL_CSP, /script-src 'self'(;|$)/);
  assert.match(PANEL_CSP, /frame-ancestors 'none'/);
  assert.equal(res.headers['x-frame-options'], 'DENY');
  assert.equal(res.headers['cache-control'], 'no-cache');
  assert.match(res.body, /id="app"/);
});

test('assets are served by exact name, gzipped when asked, cached forever (their names carry their hash)', async () => {
  const plain = await app.inject({ method: 'GET', url: '/assets/index-abc.js' });
  assert.equal(plain.statusCode, 200);
  assert.equal(plain.body, script);
  assert.match(String(plain.headers['content-type']), /^application\/javascript/);
  assert.match(String(plain.headers['cache-control']), /immutable/);
  const gz = await app.inject({ method: 'GET', url: '/assets/index-abc.js', headers: { 'accept-encoding': 'gzip, br' } });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(gunzipSync(gz.rawPayload).toString(), script);
  assert.ok(gz.rawPayload.length < script.length / 10);
});

test('no request path reaches the filesystem: other names, traversal and encodings are 404', async () => {
  for (const url of ['/assets/missing.js', '/assets/..%2Fsecret.txt', '/assets/%2e%2e%2f%2e%2e%2fsecret.txt', '/assets/.hidden', '/secret.txt', '/index.html/../secret.txt']) {
    const res = await app.inject({ method: 'GET', url });
    assert.equal(res.statusCode, 404, url);
    assert.doesNotMatch(res.body, /outside the panel/, url);
  }
});

test('a daemon whose panel is not built says how to build it', async () => {
  const res = await empty.inject({ method: 'GET', url: '/' });
  assert.equal(res.statusCode, 503);
  assert.match(res.body, /not built: run `npm run build`/);
});
