import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DEFAULT_URL, resolveEndpoint } from './endpoint.js';
import { saveToken } from './credentials.js';
import { writeRemotes } from './remotes.js';

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

/** The env of a test: its state dir, and a config dir inside it (the user's own ~/.config is never read). */
const envOf = (dir: string, more: Record<string, string> = {}): NodeJS.ProcessEnv => ({ NIMBO_STATE_DIR: dir, NIMBO_CONFIG_DIR: join(dir, 'cfg'), ...more });

test('state dir: daemon.json and admin.token (the implicit remote local)', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'daemon.json'), JSON.stringify({ url: 'http://127.0.0.1:9999/' }));
  writeFileSync(join(dir, 'admin.token'), 'tok\n');
  assert.deepEqual(resolveEndpoint({}, envOf(dir)), { url: 'http://127.0.0.1:9999', remote: 'local', token: 'tok' });
  // A token from nimbo login for local comes before admin.token.
  saveToken('local', 'mine', envOf(dir));
  assert.equal(resolveEndpoint({}, envOf(dir)).token, 'mine');
});

test('env vars win over the state dir, flags win over env vars', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'daemon.json'), JSON.stringify({ url: 'http://a:1' }));
  writeFileSync(join(dir, 'admin.token'), 'file');
  writeFileSync(join(dir, 'flag.token'), 'flag\n');
  const env = envOf(dir, { NIMBO_URL: 'http://b:2', NIMBO_TOKEN: 'env' });
  assert.deepEqual(resolveEndpoint({}, env), { url: 'http://b:2', token: 'env' });
  assert.deepEqual(resolveEndpoint({ url: 'http://c:3', tokenFile: join(dir, 'flag.token') }, env), { url: 'http://c:3', token: 'flag' });
  assert.throws(() => resolveEndpoint({ tokenFile: join(dir, 'nope') }, env), { message: `--token-file ${join(dir, 'nope')} cannot be read (ENOENT)` });
  writeFileSync(join(dir, 'empty.token'), '\n');
  assert.throws(() => resolveEndpoint({ tokenFile: join(dir, 'empty.token') }, env), { message: `--token-file ${join(dir, 'empty.token')} is empty` });
});

test('missing files: default URL and an explained missing token', () => {
  const dir = tempDir();
  const ep = resolveEndpoint({}, envOf(dir));
  assert.equal(ep.url, DEFAULT_URL);
  assert.equal(ep.token, undefined);
  assert.match(ep.tokenProblem ?? '', /admin\.token does not exist \(set NIMBO_TOKEN or pass --token-file FILE\)/);
});

test('unreadable token file says so', { skip: process.getuid?.() === 0 ? 'root reads everything' : false }, () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'admin.token'), 'x');
  chmodSync(join(dir, 'admin.token'), 0o000);
  assert.match(resolveEndpoint({}, envOf(dir)).tokenProblem ?? '', /not readable by you/);
});

test("daemon.json's fingerprint is pinned for its own URL only; flags and env vars win", () => {
  const dir = tempDir();
  const fp = 'AB:'.repeat(31) + 'AB';
  writeFileSync(join(dir, 'daemon.json'), JSON.stringify({ url: 'https://127.0.0.1:9443', fingerprint: fp }));
  writeFileSync(join(dir, 'admin.token'), 'tok');
  const env = envOf(dir);
  assert.deepEqual(resolveEndpoint({}, env), { url: 'https://127.0.0.1:9443', remote: 'local', token: 'tok', tls: { fingerprint: fp } });
  assert.deepEqual(resolveEndpoint({}, { ...env, NIMBO_URL: 'https://127.0.0.1:9443/' }).tls, { fingerprint: fp });
  assert.equal(resolveEndpoint({ url: 'https://remote:8443' }, env).tls, undefined);
  assert.deepEqual(resolveEndpoint({ url: 'https://remote:8443' }, { ...env, NIMBO_TLS_FINGERPRINT: 'env', NIMBO_TLS_CA: '/ca.pem' }).tls, { fingerprint: 'env', caFile: '/ca.pem' });
  assert.deepEqual(resolveEndpoint({ tlsFingerprint: 'flag', tlsCa: '/flag.pem' }, { ...env, NIMBO_TLS_FINGERPRINT: 'env', NIMBO_TLS_CA: '/ca.pem' }).tls, { fingerprint: 'flag', caFile: '/flag.pem' });
});

test('remotes: the current one, --remote, NIMBO_URL and --url, each with its own pin and token only', () => {
  const dir = tempDir();
  const local = 'CC:'.repeat(31) + 'CC';
  const prodFp = 'AB:'.repeat(31) + 'AB';
  const euFp = 'EF:'.repeat(31) + 'EF';
  writeFileSync(join(dir, 'daemon.json'), JSON.stringify({ url: 'https://127.0.0.1:9443', fingerprint: local }));
  writeFileSync(join(dir, 'admin.token'), 'admin');
  const env = envOf(dir);
  writeRemotes({ current: 'prod', remotes: { prod: { url: 'https://prod.example:8443', fingerprint: prodFp }, eu: { url: 'https://eu.example:8443/', fingerprint: euFp } } }, env);
  saveToken('prod', 'prod-token', env);
  assert.deepEqual(resolveEndpoint({}, env), { url: 'https://prod.example:8443', remote: 'prod', token: 'prod-token', tls: { fingerprint: prodFp } });
  // --remote: another remote; eu has no token, and neither prod's nor the admin token is sent to it.
  const eu = resolveEndpoint({ remote: 'eu' }, env);
  assert.deepEqual({ ...eu, tokenProblem: undefined }, { url: 'https://eu.example:8443', remote: 'eu', tls: { fingerprint: euFp }, tokenProblem: undefined });
  assert.equal(eu.tokenProblem, 'no API token for remote eu: log in with nimbo --remote eu login, or set NIMBO_TOKEN or pass --token-file FILE');
  assert.deepEqual(resolveEndpoint({ remote: 'local' }, env), { url: 'https://127.0.0.1:9443', remote: 'local', token: 'admin', tls: { fingerprint: local } });
  // NIMBO_URL says otherwise: a bare URL gets no remote's pin or token...
  const bare = resolveEndpoint({}, { ...env, NIMBO_URL: 'https://other.example:8443' });
  assert.equal(bare.remote, undefined);
  assert.equal(bare.token, undefined);
  assert.equal(bare.tls, undefined);
  assert.equal(bare.tokenProblem, 'no API token for https://other.example:8443: set NIMBO_TOKEN or pass --token-file FILE');
  // ...unless it is a known remote's URL; --remote (a flag) wins over NIMBO_URL (an env var).
  assert.equal(resolveEndpoint({}, { ...env, NIMBO_URL: 'https://eu.example:8443' }).remote, 'eu');
  assert.equal(resolveEndpoint({ remote: 'prod' }, { ...env, NIMBO_URL: 'https://eu.example:8443' }).url, 'https://prod.example:8443');
  assert.equal(resolveEndpoint({ url: 'http://127.0.0.1:1' }, env).token, 'admin', 'a loopback URL still gets the local admin token');
  assert.throws(() => resolveEndpoint({ url: 'https://x', remote: 'prod' }, env), { message: '--url and --remote both say where nimbod is: pass one of them' });
  assert.throws(() => resolveEndpoint({ remote: 'nope' }, env), { message: 'there is no remote named "nope" (nimbo remote list shows them; nimbo remote add NAME URL adds one)' });
  assert.throws(() => resolveEndpoint({ remote: '../x' }, env), /remote name "\.\.\/x" is not valid/);
  // An explicit pin still wins over the remote's.
  assert.deepEqual(resolveEndpoint({ tlsFingerprint: euFp }, env).tls, { fingerprint: euFp });
  // A current remote that was removed by hand is an error, not a silent switch to another daemon.
  writeRemotes({ current: 'gone', remotes: {} }, env);
  assert.throws(() => resolveEndpoint({}, env), /there is no remote named "gone"/);
});
