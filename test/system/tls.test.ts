import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { runArgv } from '../../src/host/exec.js';
import { ApiClient } from '../../src/cli/client.js';
import { ROOT, TestDaemon, sleep, systemSkipReason } from './harness.js';

const MAIN = join(ROOT, 'dist/src/cli/main.js');
const WRONG = 'AB:'.repeat(31) + 'AB';

describe('TLS on the API, and a bounded shutdown drain', { skip: systemSkipReason() }, () => {
  let d: TestDaemon;
  let fingerprint = '';
  let certFile = '';
  let caFile = '';
  const elsewhere = mkdtempSync(join(tmpdir(), 'nimbo-tls-cli-')); // a state dir with no daemon.json: nothing to pin from
  before(async () => {
    d = await TestDaemon.start(['--tls', '--shutdown-timeout', '3']);
    certFile = join(d.stateDir, 'tls', 'server.crt');
    caFile = join(d.stateDir, 'tls', 'ca.crt');
  });
  after(async () => {
    await d?.cleanup();
    rmSync(elsewhere, { recursive: true, force: true });
  });

  /** The CLI with only the env given (plus PATH), never the test daemon's state dir unless asked. */
  const cli = (env: Record<string, string>, ...args: string[]) =>
    runArgv([process.execPath, MAIN, ...args], { allowFailure: true, timeoutMs: 60_000, env: { PATH: process.env.PATH ?? '', NIMBO_STATE_DIR: elsewhere, NIMBO_TOKEN: d.token, ...env } });

  test('daemon.json records an https URL and the fingerprint of the server certificate the state dir\'s CA signed', () => {
    const rec = JSON.parse(readFileSync(join(d.stateDir, 'daemon.json'), 'utf8')) as { url: string; fingerprint: string };
    assert.match(rec.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    fingerprint = new X509Certificate(readFileSync(certFile)).fingerprint256;
    assert.equal(rec.fingerprint, fingerprint);
    assert.equal(statSync(join(d.stateDir, 'tls', 'server.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(d.stateDir, 'tls', 'ca.key')).mode & 0o777, 0o600);
    assert.ok(new X509Certificate(readFileSync(certFile)).checkIssued(new X509Certificate(readFileSync(caFile))));
    assert.equal(statSync(join(d.stateDir, 'tls')).mode & 0o777, 0o700);
  });

  test("the CLI works with daemon.json's pin, an explicit pin, or the state dir's CA", async () => {
    const local = await d.cli('list', '-o', 'json');
    assert.equal(local.code, 0, local.stderr);
    assert.deepEqual(JSON.parse(local.stdout), []);
    const pinned = await cli({ NIMBO_URL: d.url, NIMBO_TLS_FINGERPRINT: fingerprint.replace(/:/g, '').toLowerCase() }, 'host', 'info', '-o', 'json');
    assert.equal(pinned.code, 0, pinned.stderr);
    assert.ok(JSON.parse(pinned.stdout).accelerator);
    const byFlag = await cli({}, '--url', d.url, '--tls-ca', caFile, 'list');
    assert.equal(byFlag.code, 0, byFlag.stderr);
  });

  test('a wrong fingerprint, another CA or no trust at all is refused', async () => {
    const port = new URL(d.url).port;
    const wrong = await cli({ NIMBO_URL: d.url, NIMBO_TLS_FINGERPRINT: WRONG }, 'list');
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stderr, `nimbo: error: refusing to talk to 127.0.0.1:${port}: its certificate's SHA-256 fingerprint is ${fingerprint}, not the pinned ${WRONG} (if the daemon really got a new certificate, pin the fingerprint it prints at start)\n`);
    const none = await cli({ NIMBO_URL: d.url }, 'list');
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^nimbo: error: nimbod at https:\/\/127\.0\.0\.1:\d+ presented a certificate this client does not trust \(self-signed certificate in certificate chain\): pin it with --tls-fingerprint/);
    const otherCa = await cli({ NIMBO_URL: d.url, NIMBO_TLS_CA: '/etc/ssl/certs/ca-certificates.crt' }, 'list');
    assert.equal(otherCa.code, 1);
    assert.match(otherCa.stderr, /does not trust/);
  });

  test('plain http is not served on the TLS port', async () => {
    await assert.rejects(fetch(`${d.url.replace('https:', 'http:')}/api/v1/health`, { signal: AbortSignal.timeout(10_000) }));
    const r = await cli({ NIMBO_URL: d.url.replace('https:', 'http:') }, 'list');
    assert.equal(r.code, 5);
    assert.match(r.stderr, /cannot reach nimbod/);
  });

  test('WebSockets (console, events) work over wss with the pin, and refuse a wrong one', async () => {
    const console = await d.cli('console', 'ghost');
    assert.equal(console.code, 1);
    // The server's own answer over the socket, so the wss handshake, the pin and the token all passed.
    assert.match(console.stderr, /^nimbo: error: console of ghost closed: instance ghost has no running console\n$/);
    const client = new ApiClient(d.url, d.token, { tls: { fingerprint } });
    const { ws } = await client.openEvents();
    ws.close();
    const bad = new ApiClient(d.url, d.token, { tls: { fingerprint: WRONG } });
    await assert.rejects(bad.openEvents(), /refusing to talk to/);
  });

  test('nimbo remote add shows and pins the certificate; commands then go to the current remote with its stored token', async () => {
    const cfg = join(elsewhere, 'cfg');
    const env = { NIMBO_CONFIG_DIR: cfg, NIMBO_TOKEN: '' };
    const add = await cli(env, 'remote', 'add', 'sys', d.url, '--accept-fingerprint', fingerprint);
    assert.equal(add.code, 0, add.stderr);
    assert.ok(add.stderr.includes(`SHA-256 fingerprint: ${fingerprint}`), add.stderr);
    assert.ok(add.stderr.includes(`CA SHA-256:          ${new X509Certificate(readFileSync(caFile)).fingerprint256}`), add.stderr);
    assert.equal(statSync(join(cfg, 'config.json')).mode & 0o777, 0o600);
    const sw = await cli(env, 'remote', 'switch', 'sys');
    assert.equal(sw.code, 0, sw.stderr);
    const noToken = await cli(env, 'list');
    assert.equal(noToken.code, 6);
    assert.match(noToken.stderr, /no API token for remote sys: log in with nimbo --remote sys login/);
    mkdirSync(join(cfg, 'credentials'), { recursive: true, mode: 0o700 });
    writeFileSync(join(cfg, 'credentials', 'sys.token'), `${d.token}\n`, { mode: 0o600 });
    const list = await cli(env, 'list', '-o', 'json');
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout), []);
    const wrong = await cli(env, 'remote', 'add', 'other', d.url, '--accept-fingerprint', WRONG);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /not the --accept-fingerprint .*; remote other was not added/);
    const conf = JSON.parse(readFileSync(join(cfg, 'config.json'), 'utf8'));
    assert.deepEqual(conf, { current: 'sys', remotes: { sys: { url: d.url, fingerprint } } });
    conf.remotes.sys.fingerprint = WRONG;
    writeFileSync(join(cfg, 'config.json'), JSON.stringify(conf));
    const pinned = await cli(env, 'list');
    assert.equal(pinned.code, 1);
    assert.match(pinned.stderr, /refusing to talk to 127\.0\.0\.1:\d+: its certificate's SHA-256 fingerprint is/);
  });

  test('SIGTERM ends the daemon within --shutdown-timeout while a request hangs', async () => {
    // A request whose body never finishes keeps Fastify's close waiting forever without the timeout.
    const sock = connect({ host: '127.0.0.1', port: Number(new URL(d.url).port), ca: readFileSync(caFile), checkServerIdentity: () => undefined });
    sock.on('error', () => {});
    await new Promise<void>((resolve, reject) => sock.once('secureConnect', resolve).once('error', reject));
    sock.write(`POST /api/v1/instances HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${d.token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name":`);
    await sleep(500);
    const proc = d.proc!;
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const t0 = Date.now();
    proc.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(30_000).then(() => 'hung' as const)]);
    const ms = Date.now() - t0;
    sock.destroy();
    assert.notEqual(code, 'hung', 'nimbod still ran 30 s after SIGTERM');
    assert.equal(code, 0);
    assert.ok(ms >= 2500 && ms < 10_000, `exited after ${ms} ms (drain timeout 3 s)`);
    assert.equal(existsSync(join(d.stateDir, 'nimbod.pid')), false, 'the release step ran after the timeout');
  });

  test('a restarted daemon reuses its CA and certificate, so pins stay valid', async () => {
    const caBefore = readFileSync(caFile, 'utf8');
    await d.launch();
    assert.equal(readFileSync(caFile, 'utf8'), caBefore);
    const rec = JSON.parse(readFileSync(join(d.stateDir, 'daemon.json'), 'utf8')) as { fingerprint: string };
    assert.equal(rec.fingerprint, fingerprint);
    const r = await cli({ NIMBO_URL: d.url, NIMBO_TLS_FINGERPRINT: fingerprint }, 'list');
    assert.equal(r.code, 0, r.stderr);
  });
});
