import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runArgv } from '../host/exec.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nimbo-life-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** `nimbo daemon ARGS` on a state dir that must stay untouched. */
function daemon(...args: string[]) {
  return runArgv([process.execPath, MAIN, 'daemon', '--state-dir', join(dir, 'state'), ...args], { allowFailure: true, timeoutMs: 30_000 });
}

test('nimbod refuses plain HTTP beyond loopback with one sentence, before creating anything', async () => {
  for (const listen of ['0.0.0.0:0', '[::]:0', '192.0.2.1:8443']) {
    const r = await daemon('--listen', listen, '--no-tls');
    const host = listen.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `nimbo: error: nimbod will not serve plain HTTP on ${host}, which is not a loopback address: drop --no-tls, and it serves HTTPS with --tls-cert/--tls-key or with a self-signed certificate it creates in the state dir\n`);
  }
  assert.equal(existsSync(join(dir, 'state')), false, `state dir made: ${existsSync(join(dir, 'state')) ? readdirSync(join(dir, 'state')) : ''}`);
});

test('half a TLS pair and a bad drain timeout are refused the same way', async () => {
  let r = await daemon('--listen', '0.0.0.0:0', '--tls-cert', '/nonexistent.pem');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^nimbo: error: --tls-cert and --tls-key go together: pass both files, or neither to use a self-signed certificate\n$/);
  r = await daemon('--listen', '127.0.0.1:0', '--shutdown-timeout', 'soon');
  assert.match(r.stderr, /^nimbo: error: --shutdown-timeout "soon" must be a positive number of seconds\n$/);
  assert.equal(existsSync(join(dir, 'state')), false);
});

test('the daemon help explains TLS and the drain timeout', async () => {
  const r = await runArgv([process.execPath, MAIN, 'daemon', '--help']);
  for (const s of ['--tls-cert <file>', '--tls-key <file>', '--no-tls', '--shutdown-timeout <seconds>', 'a server certificate it signs']) assert.ok(r.stdout.includes(s), s);
});
