import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLoopbackHost, parseListen, planTls } from './config.js';

test('loopback: 127.0.0.0/8, ::1 in any spelling, localhost; nothing else', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '127.255.255.255', '::1', '0:0:0:0:0:0:0:1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) {
    assert.equal(isLoopbackHost(h), true, h);
  }
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.5', '128.0.0.1', '1127.0.0.1', '127.0.0.256', '::2', '1::1', 'fe80::1', 'example.com', 'localhost.example.com', 'my-host', '::ffff:10.0.0.1']) {
    assert.equal(isLoopbackHost(h), false, h);
  }
});

test('TLS plan: beyond loopback always TLS, self-signed unless files are given', () => {
  assert.deepEqual(planTls('127.0.0.1', {}), { kind: 'plain' });
  assert.deepEqual(planTls('::1', { tls: false }), { kind: 'plain' });
  assert.deepEqual(planTls('127.0.0.1', { tls: true }), { kind: 'self-signed' });
  assert.deepEqual(planTls('0.0.0.0', {}), { kind: 'self-signed' });
  assert.deepEqual(planTls('::', {}), { kind: 'self-signed' });
  assert.deepEqual(planTls('192.168.1.5', { tls: true }), { kind: 'self-signed' });
  assert.deepEqual(planTls('0.0.0.0', { cert: '/c.pem', key: '/k.pem' }), { kind: 'files', cert: '/c.pem', key: '/k.pem' });
  assert.deepEqual(planTls('127.0.0.1', { cert: '/c.pem', key: '/k.pem' }), { kind: 'files', cert: '/c.pem', key: '/k.pem' });
});

test('TLS plan: plain HTTP beyond loopback is refused with one sentence that says how to fix it', () => {
  for (const host of ['0.0.0.0', '::', '10.1.2.3', 'example.com']) {
    assert.throws(() => planTls(host, { tls: false }), (e: Error) => {
      assert.equal(e.message, `nimbod will not serve plain HTTP on ${host}, which is not a loopback address: drop --no-tls, and it serves HTTPS with --tls-cert/--tls-key or with a self-signed certificate it creates in the state dir`);
      assert.equal((e as { code?: string }).code, 'InvalidArgument');
      return true;
    });
  }
  assert.throws(() => planTls('0.0.0.0', { cert: '/c.pem' }), /--tls-cert and --tls-key go together/);
  assert.throws(() => planTls('127.0.0.1', { key: '/k.pem' }), /--tls-cert and --tls-key go together/);
  assert.throws(() => planTls('127.0.0.1', { tls: false, cert: '/c', key: '/k' }), /--no-tls contradicts --tls-cert/);
});

test('listen addresses parse into host and port', () => {
  assert.deepEqual(parseListen('[::]:8443'), { host: '::', port: 8443 });
  assert.deepEqual(parseListen('0.0.0.0:0'), { host: '0.0.0.0', port: 0 });
  assert.throws(() => parseListen('0.0.0.0'), /must be HOST:PORT/);
});
