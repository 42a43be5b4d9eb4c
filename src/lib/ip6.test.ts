import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canonicalIpv6,
  contains6,
  eui64Address,
  formatIpv6,
  hostIn6,
  isIpv6,
  isUla,
  isUnicastIpv6,
  overlaps6,
  parseCidr6,
  parseIpv6,
  ulaSubnet,
  validateCidr6,
  validateSubnet64,
} from './ip6.js';
import { NimboError } from './errors.js';

const isInvalid = (re: RegExp) => (e: unknown) => e instanceof NimboError && e.code === 'InvalidArgument' && re.test(e.message);

test('canonical text form (RFC 5952)', () => {
  const cases: Array<[string, string]> = [
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group stays
    ['2001:db8:0:0:0:1:0:0', '2001:db8::1:0:0'], // longest run wins
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['fe80:0:0:0:0:0:0:0', 'fe80::'],
    ['FD12:3456:789A:1::1', 'fd12:3456:789a:1::1'],
    ['::ffff:10.0.0.1', '::ffff:10.0.0.1'],
    ['::ffff:a00:1', '::ffff:10.0.0.1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1::2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ];
  for (const [input, want] of cases) assert.equal(canonicalIpv6(input), want, input);
  assert.equal(parseIpv6('::1'), 1n);
  assert.equal(formatIpv6((1n << 128n) - 1n), 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
});

test('parseIpv6 rejects malformed text with a clear message', () => {
  for (const bad of ['', '1', ':::', '1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', 'fe80::1%eth0', '1::1.2.3', '1.2.3.4', '::1.2.3.4:5', '1:2:3:4:5:6:7::8']) {
    assert.throws(() => parseIpv6(bad), isInvalid(/IPv6 address/), bad);
  }
  assert.equal(isIpv6('fd00::1'), true);
  assert.equal(isIpv6('10.0.0.1'), false);
  assert.throws(() => formatIpv6(-1n), isInvalid(/128-bit/));
});

test('CIDR blocks, /64 validation, contains and overlaps', () => {
  assert.equal(validateCidr6('FD00:1:2:3:0::/64'), 'fd00:1:2:3::/64');
  assert.throws(() => validateCidr6('fd00::1/64'), isInvalid(/host bits set; did you mean fd00::\/64/));
  assert.deepEqual(parseCidr6('fd00::1/64', { strict: false }), { network: parseIpv6('fd00::'), prefix: 64 });
  assert.throws(() => validateCidr6('fd00::/129'), isInvalid(/prefix length/));
  assert.throws(() => validateCidr6('fd00::'), isInvalid(/CIDR/));
  assert.equal(validateSubnet64('fd00:0:0:1::/64'), 'fd00:0:0:1::/64');
  assert.throws(() => validateSubnet64('fd00::/48'), isInvalid(/must be a \/64/));
  assert.throws(() => validateSubnet64('fd00::/80'), isInvalid(/must be a \/64/));

  assert.equal(contains6('fd00:0:0:1::/64', 'fd00:0:0:1::5'), true);
  assert.equal(contains6('fd00:0:0:1::/64', 'fd00:0:0:2::5'), false);
  assert.equal(contains6('fd00::/48', 'fd00:0:0:7::/64'), true);
  assert.equal(contains6('fd00:0:0:7::/64', 'fd00::/48'), false);
  assert.equal(contains6('::/0', '2001:db8::1'), true);
  assert.equal(overlaps6('fd00::/48', 'fd00:0:0:7::/64'), true);
  assert.equal(overlaps6('fd00:0:0:7::/64', 'fd00::/48'), true);
  assert.equal(overlaps6('fd00:0:0:7::/64', 'fd00:0:0:8::/64'), false);
  assert.equal(overlaps6('fd00:0:0:7::/64', 'fd00:0:0:7::1'), true);
  assert.equal(overlaps6('fd00:0:0:7::1', 'fd00:0:0:7::2'), false);
});

test('ULA, unicast checks, host numbers', () => {
  assert.equal(isUla('fd12:3456:789a:1::/64'), true);
  assert.equal(isUla('fc00::1'), true);
  assert.equal(isUla('2001:db8::/64'), false);
  assert.equal(isUla('fe80::1'), false);
  for (const a of ['::', '::1', 'ff02::1', 'fe80::1', '::ffff:10.0.0.1']) assert.equal(isUnicastIpv6(a), false, a);
  assert.equal(isUnicastIpv6('fd00::1'), true);
  assert.equal(hostIn6('fd00:0:0:1::/64', 1), 'fd00:0:0:1::1');
  assert.equal(hostIn6('fd00:0:0:1::/64', 0x100n), 'fd00:0:0:1::100');
  assert.throws(() => hostIn6('fd00:0:0:1::/127', 2), isInvalid(/out of range/));
});

test('ulaSubnet: deterministic, fd-prefixed /64, different seeds differ', () => {
  const a = ulaSubnet('daemon-1/default');
  assert.equal(a, ulaSubnet('daemon-1/default'));
  assert.match(a, /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/64$/);
  assert.equal(validateSubnet64(a), a, 'canonical');
  assert.equal(isUla(a), true);
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) seen.add(ulaSubnet(`seed-${i}`));
  assert.equal(seen.size, 1000);
  assert.throws(() => ulaSubnet(''), isInvalid(/seed/));
});

test('eui64Address: modified EUI-64 SLAAC address', () => {
  assert.equal(eui64Address('fd00:0:0:1::/64', '52:54:00:12:34:56'), 'fd00::1:5054:ff:fe12:3456');
  assert.equal(eui64Address('2001:db8::/64', '02:00:00:00:00:01'), '2001:db8::ff:fe00:1');
  assert.equal(eui64Address('2001:db8::/64', '00:11:22:33:44:55'), '2001:db8::211:22ff:fe33:4455');
  assert.throws(() => eui64Address('2001:db8::/48', '52:54:00:12:34:56'), isInvalid(/\/64/));
  assert.throws(() => eui64Address('2001:db8::/64', '01:00:5e:00:00:01'), isInvalid(/multicast/));
});
