// The web panel's form-to-API conversions (web/src/lib/res-values.ts): what a form sends is what the API takes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditCall, changed, exactSize, forwardBody, keepText, localToIso, num, ruleBody } from '../../web/src/lib/res-values.js';

test('num: empty and junk are undefined, numbers parse', () => {
  assert.equal(num(''), undefined);
  assert.equal(num('  '), undefined);
  assert.equal(num('abc'), undefined);
  assert.equal(num(' 42 '), 42);
  assert.equal(num('0'), 0);
});

test('exactSize: the largest unit that divides exactly, else bytes', () => {
  assert.equal(exactSize(10 * 1024 ** 3), '10GiB');
  assert.equal(exactSize(1536 * 1024 ** 2), '1536MiB');
  assert.equal(exactSize(64 * 1024 ** 2), '64MiB');
  assert.equal(exactSize(1000), '1000');
  assert.equal(exactSize(2 * 1024 ** 4), '2TiB');
});

test('keepText: words for a retention policy', () => {
  assert.equal(keepText(undefined), 'all');
  assert.equal(keepText({}), 'all');
  assert.equal(keepText({ keepLast: 7, keepDaily: 14 }), 'last 7, daily 14');
});

test('localToIso: local datetime to ISO, empty or invalid to undefined', () => {
  assert.equal(localToIso(''), undefined);
  assert.equal(localToIso('not a time'), undefined);
  const iso = localToIso('2026-12-05T10:30');
  assert.ok(iso && /^2026-12-0[45]T\d\d:30:00\.000Z$/.test(iso), iso);
  assert.equal(new Date(iso!).getTime(), new Date(2026, 11, 5, 10, 30).getTime());
});

test('auditCall: route parameters filled in, unknown ones kept', () => {
  assert.equal(auditCall('/api/v1/networks/:name/forwards/:id', { name: 'web', id: 'f1' }), '/api/v1/networks/web/forwards/f1');
  assert.equal(auditCall('/api/v1/instances/:name', {}), '/api/v1/instances/:name');
  assert.equal(auditCall('/api/v1/host', undefined), '/api/v1/host');
});

test('forwardBody: a port forward with numbers; no port is a floating IP (no protocol)', () => {
  const base = { listenAddress: ' 203.0.113.5 ', protocol: 'tcp', listenPort: '8080', listenPortEnd: '', instance: 'web1 ', nic: '', targetPort: '80', description: '' };
  assert.deepEqual(forwardBody(base), { listenAddress: '203.0.113.5', instance: 'web1', protocol: 'tcp', listenPort: 8080, targetPort: 80 });
  assert.deepEqual(forwardBody({ ...base, protocol: 'udp', listenPortEnd: '8090', nic: 'eth1', description: 'x' }), {
    listenAddress: '203.0.113.5', instance: 'web1', protocol: 'udp', listenPort: 8080, listenPortEnd: 8090, targetPort: 80, nic: 'eth1', description: 'x',
  });
  assert.deepEqual(forwardBody({ ...base, listenPort: '', listenPortEnd: '9', targetPort: '' }), { listenAddress: '203.0.113.5', instance: 'web1' });
});

test('ruleBody: peer is source for ingress, destination for egress; ports only for tcp/udp', () => {
  assert.deepEqual(ruleBody({ direction: 'ingress', protocol: 'tcp', ports: '22', peer: '10.0.0.0/8', description: '' }), { direction: 'ingress', protocol: 'tcp', ports: '22', source: '10.0.0.0/8' });
  assert.deepEqual(ruleBody({ direction: 'egress', protocol: 'udp', ports: '53', peer: 'group:dns', description: 'dns' }), { direction: 'egress', protocol: 'udp', ports: '53', destination: 'group:dns', description: 'dns' });
  assert.deepEqual(ruleBody({ direction: 'ingress', protocol: 'icmp', ports: '22', peer: '', description: '' }), { direction: 'ingress', protocol: 'icmp' });
});

test('changed: only changed fields, numbers for numeric keys, empty numbers left out', () => {
  const before = { vcpus: '1', memoryMiB: '1024', pricePerHour: '0', description: '' };
  assert.deepEqual(changed(before, { ...before }, ['vcpus', 'memoryMiB']), {});
  assert.deepEqual(changed(before, { ...before, vcpus: '2', pricePerHour: ' 0.02 ' }, ['vcpus', 'memoryMiB']), { vcpus: 2, pricePerHour: '0.02' });
  assert.deepEqual(changed(before, { ...before, memoryMiB: '' }, ['vcpus', 'memoryMiB']), {});
});
