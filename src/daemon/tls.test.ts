import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { RealExec } from '../host/exec.js';
import { caArgv, checkPair, ensureGenerated, loadTlsFiles, prepareTls, serverArgv, subjectAltNames } from './tls.js';

const dir = mkdtempSync(join(tmpdir(), 'nimbo-tls-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const exec = new RealExec();

test('subjectAltNames: the listen address, the host name and loopback', () => {
  const ifaces = { eth0: [{ address: '192.0.2.7', family: 'IPv4' }, { address: 'fe80::1', family: 'IPv6' }] } as unknown as NodeJS.Dict<import('node:os').NetworkInterfaceInfo[]>;
  assert.deepEqual(subjectAltNames('10.1.2.3', 'box', ifaces), ['DNS:localhost', 'DNS:box', 'IP:127.0.0.1', 'IP:::1', 'IP:10.1.2.3']);
  assert.deepEqual(subjectAltNames('0.0.0.0', 'box', ifaces), ['DNS:localhost', 'DNS:box', 'IP:127.0.0.1', 'IP:::1', 'IP:192.0.2.7']);
  assert.deepEqual(subjectAltNames('nimbo.example.com', 'bad host!', ifaces), ['DNS:localhost', 'DNS:nimbo.example.com', 'IP:127.0.0.1', 'IP:::1']);
});

test('the openssl argvs are argvs: odd host names cannot add arguments', () => {
  const ca = caArgv('/d/ca.crt', '/d/ca.key', 'evil -days 1');
  assert.equal(ca[0], 'openssl');
  assert.equal(ca[ca.indexOf('-subj') + 1], '/CN=nimbo CA@evil--days-1');
  assert.equal(ca[ca.indexOf('-days') + 1], '3650');
  const argv = serverArgv('/d/c', '/d/k', '/d/ca.crt', '/d/ca.key', ['DNS:localhost'], 'evil -days 1');
  assert.equal(argv[argv.indexOf('-subj') + 1], '/CN=nimbod@evil--days-1');
  assert.equal(argv[argv.indexOf('-CA') + 1], '/d/ca.crt');
  assert.equal(argv[argv.indexOf('-CAkey') + 1], '/d/ca.key');
});

/** The certificates of a served chain (PEM text of one or more certificates). */
function chainOf(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map((c) => new X509Certificate(c));
}

test('a CA (key 0600) and a server certificate it signed are made once, name the listen address and are reused', async () => {
  const tlsDir = join(dir, 'state', 'tls');
  const first = await ensureGenerated(exec, tlsDir, '10.9.8.7');
  assert.equal(first.generated, true);
  assert.equal(first.source, 'generated');
  assert.equal(statSync(tlsDir).mode & 0o777, 0o700);
  for (const k of ['server.key', 'ca.key']) assert.equal(statSync(join(tlsDir, k)).mode & 0o777, 0o600, k);
  const leaf = new X509Certificate(readFileSync(join(tlsDir, 'server.crt')));
  const ca = new X509Certificate(readFileSync(join(tlsDir, 'ca.crt')));
  assert.equal(first.fingerprint, leaf.fingerprint256);
  assert.equal(first.caFingerprint, ca.fingerprint256);
  assert.equal(first.caFile, join(tlsDir, 'ca.crt'));
  assert.match(first.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.equal(ca.ca, true);
  assert.equal(leaf.ca, false, 'a leaf must not be able to sign other certificates');
  assert.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey), 'the server certificate is signed by the CA');
  for (const want of [/IP Address:10\.9\.8\.7/, /IP Address:127\.0\.0\.1/, /IP Address:0:0:0:0:0:0:0:1/, /DNS:localhost/]) assert.match(leaf.subjectAltName ?? '', want);
  // The chain served: the server certificate, then the CA.
  assert.deepEqual(chainOf(first.cert).map((c) => c.fingerprint256), [leaf.fingerprint256, ca.fingerprint256]);
  // A restart keeps both.
  const again = await ensureGenerated(exec, tlsDir, '10.9.8.7');
  assert.equal(again.generated, false);
  assert.equal(again.fingerprint, first.fingerprint);
  assert.equal(again.caFingerprint, first.caFingerprint);
  // Another listen address: a new server certificate from the same CA.
  const moved = await ensureGenerated(exec, tlsDir, '10.9.8.6');
  assert.equal(moved.generated, true);
  assert.notEqual(moved.fingerprint, first.fingerprint);
  assert.equal(moved.caFingerprint, first.caFingerprint);
  assert.match(new X509Certificate(readFileSync(join(tlsDir, 'server.crt'))).subjectAltName ?? '', /IP Address:10\.9\.8\.6/);
  // A key that no longer matches its certificate is replaced, still under the same CA.
  const other = await ensureGenerated(exec, join(dir, 'other'), '127.0.0.1');
  writeFileSync(join(tlsDir, 'server.key'), readFileSync(join(dir, 'other', 'server.key')));
  const remade = await ensureGenerated(exec, tlsDir, '10.9.8.6');
  assert.equal(remade.generated, true);
  assert.notEqual(remade.fingerprint, moved.fingerprint);
  assert.notEqual(remade.fingerprint, other.fingerprint);
  assert.equal(remade.caFingerprint, first.caFingerprint);
  // A server certificate from another CA (e.g. the pre-CA self-signed one) is replaced by one this CA signed.
  writeFileSync(join(tlsDir, 'server.key'), readFileSync(join(dir, 'other', 'server.key')));
  writeFileSync(join(tlsDir, 'server.crt'), readFileSync(join(dir, 'other', 'server.crt')));
  const resigned = await ensureGenerated(exec, tlsDir, '10.9.8.6');
  assert.equal(resigned.generated, true);
  assert.ok(new X509Certificate(readFileSync(join(tlsDir, 'server.crt'))).checkIssued(ca));
  // A lost CA key means a new CA and a new server certificate.
  rmSync(join(tlsDir, 'ca.key'));
  const newCa = await ensureGenerated(exec, tlsDir, '10.9.8.6');
  assert.notEqual(newCa.caFingerprint, first.caFingerprint);
  assert.notEqual(newCa.fingerprint, resigned.fingerprint);
});

test('the operator\'s own files take precedence over generated ones', async () => {
  const gen = await ensureGenerated(exec, join(dir, 'gen'), '127.0.0.1');
  const own = await ensureGenerated(exec, join(dir, 'own'), '127.0.0.1');
  const m = await prepareTls({ kind: 'files', cert: join(dir, 'own', 'server.crt'), key: join(dir, 'own', 'server.key') }, exec, join(dir, 'gen'), '127.0.0.1');
  assert.equal(m?.source, 'files');
  assert.equal(m?.fingerprint, own.fingerprint);
  assert.notEqual(m?.fingerprint, gen.fingerprint);
  const g = await prepareTls({ kind: 'self-signed' }, exec, join(dir, 'gen'), '127.0.0.1');
  assert.equal(g?.fingerprint, gen.fingerprint);
  assert.equal(await prepareTls({ kind: 'plain' }, exec, join(dir, 'gen'), '127.0.0.1'), undefined);
});

test('--tls-cert/--tls-key: loaded when they match, refused with one sentence otherwise', async () => {
  const a = await ensureGenerated(exec, join(dir, 'a'), '127.0.0.1');
  const b = await ensureGenerated(exec, join(dir, 'b'), '127.0.0.1');
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
