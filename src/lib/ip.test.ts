import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocateAddress,
  broadcastOf,
  contains,
  formatCidr,
  formatIpv4,
  hostCount,
  isIpv4,
  isMac,
  netmaskOf,
  networkOf,
  nthHost,
  overlaps,
  parseCidr,
  parseIpv4,
  prefixOf,
  prefixToMask,
  randomMac,
  validateCidr,
  validateMac,
} from './ip.js';
import { NimboError } from './errors.js';

const isInvalid = (re: RegExp) => (e: unknown) => e instanceof NimboError && e.code === 'InvalidArgument' && re.test(e.message);

test('parseIpv4 / formatIpv4 round-trip', () => {
  for (const s of ['0.0.0.0', '10.77.0.1', '192.168.255.254', '255.255.255.255']) assert.equal(formatIpv4(parseIpv4(s)), s);
  assert.equal(parseIpv4('10.0.0.1'), 0x0a000001);
  assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  assert.equal(formatIpv4(0xc0a80001), '192.168.0.1');
});

test('parseIpv4 rejects malformed input with a clear message', () => {
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.-4', ' 1.2.3.4', '1.2.3.4 ', 'a.b.c.d', '1..2.3', '0x1.2.3.4']) {
    assert.throws(() => parseIpv4(bad), isInvalid(/is not an IPv4 address/), bad);
    assert.equal(isIpv4(bad), false);
  }
  assert.throws(() => formatIpv4(-1), isInvalid(/32-bit/));
  assert.throws(() => formatIpv4(2 ** 32), isInvalid(/32-bit/));
});

test('parseCidr is strict about host bits unless asked not to be', () => {
  assert.deepEqual(parseCidr('10.77.0.0/24'), { network: 0x0a4d0000, prefix: 24 });
  assert.throws(() => parseCidr('10.77.0.5/24'), isInvalid(/host bits set; did you mean 10\.77\.0\.0\/24\?/));
  assert.equal(formatCidr(parseCidr('10.77.0.5/24', { strict: false })), '10.77.0.0/24');
  assert.equal(validateCidr('0.0.0.0/0'), '0.0.0.0/0');
  assert.equal(validateCidr('10.0.0.7/32'), '10.0.0.7/32');
  for (const bad of ['10.0.0.0', '10.0.0.0/', '10.0.0.0/33', '10.0.0.0/024', '10.0.0.0/x', '10.0.0.0/24/1']) {
    assert.throws(() => parseCidr(bad), isInvalid(/CIDR|prefix|IPv4/), bad);
  }
});

test('network, broadcast, netmask, prefix', () => {
  assert.equal(networkOf('10.77.0.9/24'), '10.77.0.0');
  assert.equal(broadcastOf('10.77.0.0/24'), '10.77.0.255');
  assert.equal(broadcastOf('10.77.0.0/23'), '10.77.1.255');
  assert.equal(broadcastOf('0.0.0.0/0'), '255.255.255.255');
  assert.equal(netmaskOf('10.77.0.0/24'), '255.255.255.0');
  assert.equal(netmaskOf('10.0.0.0/9'), '255.128.0.0');
  assert.equal(prefixOf('10.0.0.0/8'), 8);
  assert.equal(prefixToMask(0), 0);
  assert.equal(prefixToMask(32), 0xffffffff);
  assert.throws(() => prefixToMask(33), isInvalid(/0-32/));
});

test('contains and overlaps', () => {
  assert.equal(contains('10.77.0.0/24', '10.77.0.1'), true);
  assert.equal(contains('10.77.0.0/24', '10.77.1.1'), false);
  assert.equal(contains('10.77.0.0/16', '10.77.3.0/24'), true);
  assert.equal(contains('10.77.3.0/24', '10.77.0.0/16'), false);
  assert.equal(contains('0.0.0.0/0', '255.255.255.255'), true);
  assert.equal(overlaps('10.77.0.0/24', '10.77.0.128/25'), true);
  assert.equal(overlaps('10.77.0.0/24', '10.77.1.0/24'), false);
  assert.equal(overlaps('10.0.0.0/8', '10.250.3.0/24'), true);
  assert.equal(overlaps('10.77.0.255', '10.77.0.0/24'), true);
  assert.equal(overlaps('10.77.1.0', '10.77.0.0/24'), false);
  assert.throws(() => overlaps('10.77.0.1/24', '10.0.0.0/8'), isInvalid(/host bits/));
});

test('hostCount and nthHost', () => {
  assert.equal(hostCount('10.77.0.0/24'), 254);
  assert.equal(hostCount('10.77.0.0/30'), 2);
  assert.equal(hostCount('10.77.0.0/31'), 2);
  assert.equal(hostCount('10.77.0.1/32'), 1);
  assert.equal(nthHost('10.77.0.0/24', 1), '10.77.0.1');
  assert.equal(nthHost('10.77.0.0/24', 254), '10.77.0.254');
  assert.equal(nthHost('10.77.0.0/31', 1), '10.77.0.0');
  assert.throws(() => nthHost('10.77.0.0/24', 0), isInvalid(/out of range 1-254/));
  assert.throws(() => nthHost('10.77.0.0/24', 255), isInvalid(/out of range/));
});

test('allocateAddress skips network, broadcast, used and excluded addresses', () => {
  assert.equal(allocateAddress('10.77.0.0/24', new Set(), ['10.77.0.1']), '10.77.0.2');
  assert.equal(allocateAddress('10.77.0.0/24', new Set(['10.77.0.2', '10.77.0.3']), ['10.77.0.1']), '10.77.0.4');
  assert.equal(allocateAddress('10.77.0.0/24', new Set(), ['10.77.0.0/28']), '10.77.0.16');
  assert.equal(allocateAddress('10.77.0.0/24', new Set()), '10.77.0.1');
  const all = new Set(Array.from({ length: 253 }, (_, i) => `10.77.0.${i + 2}`));
  assert.throws(() => allocateAddress('10.77.0.0/24', all, ['10.77.0.1']), (e: unknown) => e instanceof NimboError && e.code === 'Conflict');
  // the broadcast address is never handed out
  const almost = new Set(Array.from({ length: 252 }, (_, i) => `10.77.0.${i + 2}`));
  assert.equal(allocateAddress('10.77.0.0/24', almost, ['10.77.0.1']), '10.77.0.254');
});

test('validateMac normalizes and rejects multicast/zero/malformed', () => {
  assert.equal(validateMac('52:54:00:AB:cd:01'), '52:54:00:ab:cd:01');
  assert.throws(() => validateMac('01:00:5e:00:00:01'), isInvalid(/multicast/));
  assert.throws(() => validateMac('00:00:00:00:00:00'), isInvalid(/all-zero/));
  for (const bad of ['52:54:00:ab:cd', '52-54-00-ab-cd-01', '5254.00ab.cd01', '52:54:00:ab:cd:0g', '']) {
    assert.throws(() => validateMac(bad), isInvalid(/not a MAC address/), bad);
    assert.equal(isMac(bad), false);
  }
});

test('randomMac keeps the prefix and is a valid unicast MAC', () => {
  for (let i = 0; i < 50; i++) {
    const m = randomMac();
    assert.match(m, /^52:54:00(:[0-9a-f]{2}){3}$/);
    assert.equal(validateMac(m), m);
  }
  assert.equal(randomMac('02:AA', (n) => Buffer.alloc(n, 0x0f)), '02:aa:0f:0f:0f:0f');
  assert.throws(() => randomMac('01:00:5e'), isInvalid(/multicast/));
  assert.throws(() => randomMac('52:54:00:00:00:00'), isInvalid(/1-5/));
  assert.throws(() => randomMac('zz'), isInvalid(/1-5/));
});
