import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DEFAULT_URL, resolveEndpoint } from './endpoint.js';

const made: string[] = [];
/** A temp state dir, removed after the tests. */
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-ep-'));
  made.push(dir);
  return dir;
}
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

test('state dir: daemon.json and admin.token', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'daemon.json'), JSON.stringify({ url: 'http://127.0.0.1:9999/' }));
  writeFileSync(join(dir, 'admin.token'), 'tok\n');
  assert.deepEqual(resolveEndpoint({}, { NIMBO_STATE_DIR: dir }), { url: 'http://127.0.0.1:9999', token: 'tok' });
});

test('env vars win over the state dir, flags win over env vars', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'daemon.json'), JSON.stringify({ url: 'http://a:1' }));
  writeFileSync(join(dir, 'admin.token'), 'file');
  const env = { NIMBO_STATE_DIR: dir, NIMBO_URL: 'http://b:2', NIMBO_TOKEN: 'env' };
  assert.deepEqual(resolveEndpoint({}, env), { url: 'http://b:2', token: 'env' });
  assert.deepEqual(resolveEndpoint({ url: 'http://c:3', token: 'flag' }, env), { url: 'http://c:3', token: 'flag' });
});

test('missing files: default URL and an explained missing token', () => {
  const dir = tempDir();
  const ep = resolveEndpoint({}, { NIMBO_STATE_DIR: dir });
  assert.equal(ep.url, DEFAULT_URL);
  assert.equal(ep.token, undefined);
  assert.match(ep.tokenProblem ?? '', /admin\.token does not exist \(set NIMBO_TOKEN or pass --token\)/);
});

test('unreadable token file says so', { skip: process.getuid?.() === 0 ? 'root reads everything' : false }, () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'admin.token'), 'x');
  chmodSync(join(dir, 'admin.token'), 0o000);
  assert.match(resolveEndpoint({}, { NIMBO_STATE_DIR: dir }).tokenProblem ?? '', /not readable by you/);
});

test("daemon.json's fingerprint is pinned for its own URL only; flags and env vars win", () => {
  const dir = tempDir();
  const fp = 'AB:'.repeat(31) + 'AB';
  writeFileSync(join(dir, 'daemon.json'), JSON.stringify({ url: 'https://127.0.0.1:9443', fingerprint: fp }));
  writeFileSync(join(dir, 'admin.token'), 'tok');
  const env = { NIMBO_STATE_DIR: dir };
  assert.deepEqual(resolveEndpoint({}, env), { url: 'https://127.0.0.1:9443', token: 'tok', tls: { fingerprint: fp } });
  assert.deepEqual(resolveEndpoint({}, { ...env, NIMBO_URL: 'https://127.0.0.1:9443/' }).tls, { fingerprint: fp });
  assert.equal(resolveEndpoint({ url: 'https://remote:8443' }, env).tls, undefined);
  assert.deepEqual(resolveEndpoint({ url: 'https://remote:8443' }, { ...env, NIMBO_TLS_FINGERPRINT: 'env', NIMBO_TLS_CA: '/ca.pem' }).tls, { fingerprint: 'env', caFile: '/ca.pem' });
  assert.deepEqual(resolveEndpoint({ tlsFingerprint: 'flag', tlsCa: '/flag.pem' }, { ...env, NIMBO_TLS_FINGERPRINT: 'env', NIMBO_TLS_CA: '/ca.pem' }).tls, { fingerprint: 'flag', caFile: '/flag.pem' });
});
