import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { RealExec } from '../host/exec.js';
import { ensureSelfSigned, loadTlsFiles, selfSignedArgv, subjectAltNames, checkPair } from './tls.js';

const dir = mkdtempSync(join(tmpdir(), 'nimbo-tls-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const exec = new RealExec();

test('subjectAltNames: the listen address, the host name and loopback', () => {
  const ifaces = { eth0: [{ address: '192.0.2.7', family: 'IPv4' }, { address: 'fe80::1', family: 'IPv6' }] } as unknown as NodeJS.Dict<import('node:os').NetworkInterfaceInfo[]>;
  assert.deepEqual(subjectAltNames('10.1.2.3', 'box', ifaces), ['DNS:localhost', 'DNS:box', 'IP:127.0.0.1', 'IP:::1', 'IP:10.1.2.3']);
  assert.deepEqual(subjectAltNames('0.0.0.0', 'box', ifaces), ['DNS:localhost', 'DNS:box', 'IP:127.0.0.1', 'IP:::1', 'IP:192.0.2.7']);
  assert.deepEqual(subjectAltNames('nimbo.example.com', 'bad host!', ifaces), ['DNS:localhost', 'DNS:nimbo.example.com', 'IP:127.0.0.1', 'IP:::1']);
});

test('the openssl argv is an argv: odd host names cannot add arguments', () => {
  const argv = selfSignedArgv('/d/c', '/d/k', ['DNS:localhost'], 'evil -days 1');
  assert.equal(argv[0], 'openssl');
  assert.equal(argv[argv.indexOf('-subj') + 1], '/CN=nimbod@evil--days-1');
  assert.equal(argv[argv.indexOf('-days') + 1], '3650');
});

test('a self-signed pair is made once (key 0600, dir 0700), names the listen address and is reused', async () => {
  const tlsDir = join(dir, 'state', 'tls');
  const first = await ensureSelfSigned(exec, tlsDir, '127.0.0.1');
  assert.equal(first.generated, true);
  assert.equal(statSync(tlsDir).mode & 0o777, 0o700);
  assert.equal(statSync(join(tlsDir, 'server.key')).mode & 0o777, 0o600);
  const x509 = new X509Certificate(readFileSync(join(tlsDir, 'server.crt')));
  assert.equal(first.fingerprint, x509.fingerprint256);
  assert.match(first.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.match(x509.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
  assert.match(x509.subjectAltName ?? '', /DNS:localhost/);
  assert.equal(x509.ca, false, 'a leaf must not be able to sign other certificates');
  const again = await ensureSelfSigned(exec, tlsDir, '127.0.0.1');
  assert.equal(again.generated, false);
  assert.equal(again.fingerprint, first.fingerprint);
  // A key that no longer matches its certificate is replaced by a new pair.
  const other = await ensureSelfSigned(exec, join(dir, 'other'), '127.0.0.1');
  writeFileSync(join(tlsDir, 'server.key'), readFileSync(join(dir, 'other', 'server.key')));
  const remade = await ensureSelfSigned(exec, tlsDir, '127.0.0.1');
  assert.equal(remade.generated, true);
  assert.notEqual(remade.fingerprint, first.fingerprint);
  assert.notEqual(remade.fingerprint, other.fingerprint);
});

test('--tls-cert/--tls-key: loaded when they match, refused with one sentence otherwise', async () => {
  const a = await ensureSelfSigned(exec, join(dir, 'a'), '127.0.0.1');
  const b = await ensureSelfSigned(exec, join(dir, 'b'), '127.0.0.1');
  const [ca, ka, kb] = [join(dir, 'a', 'server.crt'), join(dir, 'a', 'server.key'), join(dir, 'b', 'server.key')];
  assert.equal(loadTlsFiles(ca, ka).fingerprint, a.fingerprint);
  assert.notEqual(a.fingerprint, b.fingerprint);
  assert.throws(() => loadTlsFiles(ca, kb), { message: `--tls-key ${kb} does not match the certificate in --tls-cert ${ca}` });
  assert.throws(() => loadTlsFiles(join(dir, 'nope.crt'), ka), { message: `--tls-cert ${join(dir, 'nope.crt')} cannot be read (ENOENT)` });
  assert.throws(() => loadTlsFiles(ka, ka), { message: `--tls-cert ${ka} is not a PEM certificate` });
  assert.throws(() => loadTlsFiles(ca, ca), { message: `--tls-key ${ca} is not a PEM private key` });
  const later = new Date(Date.now() + 3651 * 86400_000);
  assert.throws(() => checkPair(a.cert, a.key, { cert: 'c', key: 'k' }, later), { message: /^the certificate in c expired on / });
});
