import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { RealExec } from '../host/exec.js';
import { ensureGenerated, type TlsMaterial } from '../daemon/tls.js';
import { ApiClient } from './client.js';
import { FakeDaemon } from './fake-daemon.js';
import { normalizeFingerprint, tlsOptionsFor } from './tls-trust.js';
import type { PeerCertificate } from 'node:tls';

const dir = mkdtempSync(join(tmpdir(), 'nimbo-trust-'));
const fake = new FakeDaemon();
let served: TlsMaterial;
let other: TlsMaterial;
before(async () => {
  served = await ensureGenerated(new RealExec(), join(dir, 'served'), '127.0.0.1');
  other = await ensureGenerated(new RealExec(), join(dir, 'other'), '127.0.0.1');
  await fake.start({ cert: served.cert, key: served.key });
});
after(async () => {
  await fake.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('fingerprints are accepted in the usual spellings and refused otherwise', () => {
  const fp = served.fingerprint;
  assert.equal(normalizeFingerprint(fp), fp);
  assert.equal(normalizeFingerprint(fp.replace(/:/g, '').toLowerCase()), fp);
  assert.equal(normalizeFingerprint(`SHA256:${fp.toLowerCase()}`), fp);
  assert.throws(() => normalizeFingerprint('AB:CD'), /is not a SHA-256 fingerprint/);
});

test('a pinned fingerprint lets the client talk to a daemon with a generated certificate', async () => {
  const client = new ApiClient(fake.url, fake.token, { tls: { fingerprint: served.fingerprint.replace(/:/g, '').toLowerCase() } });
  assert.deepEqual(await client.health(), { status: 'ok' });
  assert.equal((await client.listInstances())[0]?.name, 'vm1');
  assert.equal(fake.seen.at(-1)?.auth, 'Bearer secret');
  // Every later connection checks the pin again, so a certificate swapped after the first look is refused.
  const opts = await tlsOptionsFor(fake.url, { fingerprint: served.fingerprint });
  assert.equal(opts.rejectUnauthorized, true);
  assert.equal(opts.checkServerIdentity!('127.0.0.1', { fingerprint256: served.fingerprint } as PeerCertificate), undefined);
  assert.match(String(opts.checkServerIdentity!('127.0.0.1', { fingerprint256: other.fingerprint } as PeerCertificate)), /refusing to talk to/);
});

test('a wrong fingerprint is refused before any request (or token) is sent', async () => {
  const before = fake.seen.length;
  const client = new ApiClient(fake.url, fake.token, { tls: { fingerprint: other.fingerprint } });
  const port = new URL(fake.url).port;
  const want = `refusing to talk to 127.0.0.1:${port}: its certificate's SHA-256 fingerprint is ${served.fingerprint}, not the pinned ${other.fingerprint} (if the daemon really got a new certificate, pin the fingerprint it prints at start)`;
  await assert.rejects(client.listInstances(), { message: want });
  await assert.rejects(client.health(), { message: want });
  await assert.rejects(client.openConsole('vm1'), { message: want });
  assert.equal(fake.seen.length, before);
});

test('without a pin or CA a daemon with a generated certificate is not trusted, and the error says what to do', async () => {
  const before = fake.seen.length;
  const client = new ApiClient(fake.url, fake.token);
  await assert.rejects(client.listInstances(), {
    message: `nimbod at ${fake.url} presented a certificate this client does not trust (self-signed certificate in certificate chain): pin it with --tls-fingerprint (or NIMBO_TLS_FINGERPRINT) set to the SHA-256 fingerprint nimbod printed at start, or pass --tls-ca FILE`,
  });
  await assert.rejects(client.openConsole('vm1'), /does not trust/);
  assert.equal(fake.seen.length, before);
});

test('a CA file that vouches for the certificate is trusted; another one is not', async () => {
  const good = new ApiClient(fake.url, fake.token, { tls: { caFile: join(dir, 'served', 'ca.crt') } });
  assert.equal((await good.listInstances())[0]?.name, 'vm1');
  const bad = new ApiClient(fake.url, fake.token, { tls: { caFile: join(dir, 'other', 'ca.crt') } });
  await assert.rejects(bad.listInstances(), /does not trust/);
  const missing = new ApiClient(fake.url, fake.token, { tls: { caFile: join(dir, 'nope.pem') } });
  await assert.rejects(missing.listInstances(), { message: `TLS CA file ${join(dir, 'nope.pem')} cannot be read (ENOENT)` });
});

test('WebSockets go over wss with the same pin', async () => {
  const client = new ApiClient(fake.url, fake.token, { tls: { fingerprint: served.fingerprint } });
  const { ws, onMessage } = await client.openConsole('vm1');
  const first = await new Promise<string>((resolve) => onMessage((d) => resolve(d.toString())));
  assert.equal(first, 'boot log tail\n');
  ws.close();
  await assert.rejects(client.openConsole('nope'), { message: 'instance nope not found' });
});

test('plain http to a TLS daemon gets no answer', async () => {
  const client = new ApiClient(fake.url.replace('https:', 'http:'), fake.token);
  await assert.rejects(client.health(), /cannot reach nimbod/);
});
