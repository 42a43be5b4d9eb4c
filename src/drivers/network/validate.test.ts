import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NimboError } from '../../lib/errors.js';
import { assertNoClash, validateDomain, validateIfName, validateOwner, validateReservations, validateSpec, validateStateDir } from './validate.js';
import type { NetworkSpec } from './types.js';

const spec: NetworkSpec = {
  name: 'default',
  bridge: 'nimbobr0',
  subnet: '10.77.0.0/24',
  gateway: '10.77.0.1',
  mode: 'nat',
  domain: 'nimbo',
  stateDir: '/var/lib/nimbo/networks/default/',
  nftTable: 'nimbo',
};
const code = (c: string, re: RegExp) => (e: unknown) => e instanceof NimboError && e.code === c && re.test(e.message);

test('interface names: at most 15 safe characters', () => {
  assert.equal(validateIfName('qh3abcdbr'), 'qh3abcdbr');
  assert.equal(validateIfName('a'.repeat(15)), 'a'.repeat(15));
  for (const bad of ['', 'a'.repeat(16), '-x', 'a b', 'a/b', 'a"b', 'br0;x', '.x']) {
    assert.throws(() => validateIfName(bad), code('InvalidArgument', /1-15 characters/), bad);
  }
});

test('domain, owner, state dir', () => {
  assert.equal(validateDomain('nimbo.internal'), 'nimbo.internal');
  assert.throws(() => validateDomain('Nimbo'), code('InvalidArgument', /domain/));
  assert.throws(() => validateDomain('a..b'), code('InvalidArgument', /domain/));
  assert.equal(validateOwner('libvirt-qemu'), 'libvirt-qemu');
  assert.equal(validateOwner('1000'), '1000');
  assert.throws(() => validateOwner('-u'), code('InvalidArgument', /owner/));
  assert.equal(validateStateDir('/a/b/'), '/a/b');
  for (const bad of ['rel/dir', '/a b', '/a\nb', '/a,b', '/a/../b']) assert.throws(() => validateStateDir(bad), code('InvalidArgument', /state directory/), bad);
});

test('validateSpec normalizes and checks the gateway', () => {
  assert.equal(validateSpec(spec).stateDir, '/var/lib/nimbo/networks/default');
  assert.throws(() => validateSpec({ ...spec, gateway: '10.78.0.1' }), code('InvalidArgument', /not inside/));
  assert.throws(() => validateSpec({ ...spec, gateway: '10.77.0.255' }), code('InvalidArgument', /broadcast/));
  assert.throws(() => validateSpec({ ...spec, subnet: '10.77.0.1/24' }), code('InvalidArgument', /host bits/));
  assert.throws(() => validateSpec({ ...spec, subnet: '10.77.0.0/30', gateway: '10.77.0.1' }), code('InvalidArgument', /too small; use at least a \/29/));
  assert.throws(() => validateSpec({ ...spec, subnet: '10.77.0.0/31', gateway: '10.77.0.1' }), code('InvalidArgument', /too small/));
  assert.equal(validateSpec({ ...spec, subnet: '10.77.0.8/29', gateway: '10.77.0.9' }).subnet, '10.77.0.8/29');
  assert.throws(() => validateSpec({ ...spec, subnet: '10.0.0.0/7', gateway: '10.0.0.1' }), code('InvalidArgument', /too large/));
  assert.throws(() => validateSpec({ ...spec, mode: 'bridged' as never }), code('InvalidArgument', /mode "bridged" must be one of nat, routed, isolated/));
  assert.throws(() => validateSpec({ ...spec, mode: undefined as never }), code('InvalidArgument', /mode/));
  for (const mode of ['nat', 'routed', 'isolated'] as const) assert.equal(validateSpec({ ...spec, mode }).mode, mode);
  assert.throws(() => validateSpec({ ...spec, bridge: 'averylongbridgename' }), code('InvalidArgument', /bridge name/));
  assert.throws(() => validateSpec({ ...spec, nftTable: 'nimbo-x' }), code('InvalidArgument', /nft table/));
});

test('validateReservations: usable, unique, normalized', () => {
  const s = validateSpec(spec);
  assert.deepEqual(validateReservations(s, [{ mac: '52:54:00:AA:00:01', ip: '10.77.0.5', hostname: 'vm1' }]), [
    { mac: '52:54:00:aa:00:01', ip: '10.77.0.5', hostname: 'vm1' },
  ]);
  const r = (mac: string, ip: string, hostname: string) => ({ mac, ip, hostname });
  assert.throws(() => validateReservations(s, [r('52:54:00:00:00:01', '10.77.1.5', 'a')]), code('InvalidArgument', /not inside/));
  assert.throws(() => validateReservations(s, [r('52:54:00:00:00:01', '10.77.0.1', 'a')]), code('InvalidArgument', /gateway/));
  assert.throws(() => validateReservations(s, [r('52:54:00:00:00:01', '10.77.0.5', 'A_b')]), code('InvalidArgument', /host name/));
  assert.throws(() => validateReservations(s, [r('52:54:00:00:00:01', '10.77.0.5', 'a'), r('52:54:00:00:00:01', '10.77.0.6', 'b')]), code('Conflict', /MAC/));
  assert.throws(() => validateReservations(s, [r('52:54:00:00:00:01', '10.77.0.5', 'a'), r('52:54:00:00:00:02', '10.77.0.5', 'b')]), code('Conflict', /address/));
  assert.throws(() => validateReservations(s, [r('52:54:00:00:00:01', '10.77.0.5', 'a'), r('52:54:00:00:00:02', '10.77.0.6', 'a')]), code('Conflict', /host name/));
});

test('validateSpec: IPv6 must be a /64 with a unicast gateway inside; canonicalized', () => {
  const v = validateSpec({ ...spec, ipv6: { subnet: 'FD12:3456:789A:0001::/64', gateway: 'fd12:3456:789a:1:0::1' } });
  assert.deepEqual(v.ipv6, { subnet: 'fd12:3456:789a:1::/64', gateway: 'fd12:3456:789a:1::1' });
  assert.throws(() => validateSpec({ ...spec, ipv6: { subnet: 'fd12:3456:789a::/48', gateway: 'fd12:3456:789a::1' } }), code('InvalidArgument', /must be a \/64/));
  assert.throws(() => validateSpec({ ...spec, ipv6: { subnet: 'fd12:3456:789a:1::/64', gateway: 'fd12:3456:789a:2::1' } }), code('InvalidArgument', /not inside/));
  assert.throws(() => validateSpec({ ...spec, ipv6: { subnet: 'fd12:3456:789a:1::/64', gateway: 'fd12:3456:789a:1::' } }), code('InvalidArgument', /anycast/));
  assert.throws(() => validateSpec({ ...spec, ipv6: { subnet: 'fd12:3456:789a:1::/64', gateway: 'nope' } }), code('InvalidArgument', /IPv6 address/));
  assert.equal('ipv6' in validateSpec(spec), false);
});

test('validateSpec: VXLAN device, id, port, unicast local and peers', () => {
  const vx = { device: 'nimbovx0', vni: 42, local: '192.168.77.1', port: 4789, peers: ['192.168.77.3', '192.168.77.2'] };
  assert.deepEqual(validateSpec({ ...spec, vxlan: vx }).vxlan, { ...vx, peers: ['192.168.77.2', '192.168.77.3'] });
  const bad = (v: object, re: RegExp) => assert.throws(() => validateSpec({ ...spec, vxlan: { ...vx, ...v } }), code('InvalidArgument', re), JSON.stringify(v));
  bad({ vni: 0 }, /1-16777215/);
  bad({ vni: 16777216 }, /1-16777215/);
  bad({ vni: 1.5 }, /1-16777215/);
  bad({ port: 0 }, /port/);
  bad({ port: 65536 }, /port/);
  bad({ device: 'a-very-long-vxlan-name' }, /vxlan device name/);
  bad({ device: 'nimbobr0' }, /bridge's name/);
  bad({ local: '127.0.0.1' }, /not a unicast/);
  bad({ local: '0.0.0.0' }, /not a unicast/);
  bad({ peers: ['239.1.1.1'] }, /not a unicast/);
  bad({ peers: ['255.255.255.255'] }, /not a unicast/);
  bad({ peers: ['10.0.0.1', '10.0.0.1'] }, /listed twice/);
  bad({ peers: ['192.168.77.1'] }, /own local address/);
  bad({ peers: ['fd00::1'] }, /IPv4 address/);
  assert.equal(validateSpec({ ...spec, vxlan: { ...vx, peers: [] } }).vxlan?.peers.length, 0);
});

test('assertNoClash: bridge, state dir, IPv4 and IPv6 overlaps, VXLAN device and id', () => {
  const a = validateSpec({ ...spec, ipv6: { subnet: 'fd00:0:0:1::/64', gateway: 'fd00:0:0:1::1' }, vxlan: { device: 'vx0', vni: 7, local: '192.168.1.1', port: 4789, peers: [] } });
  const b = { ...a, name: 'b', bridge: 'nimbobr1', subnet: '10.78.0.0/24', gateway: '10.78.0.1', stateDir: '/b', ipv6: { subnet: 'fd00:0:0:2::/64', gateway: 'fd00:0:0:2::1' }, vxlan: { ...a.vxlan!, device: 'vx1', vni: 8 } };
  assertNoClash([a], b);
  assertNoClash([a], { ...a }); // the same network is not a clash with itself
  const clash = (o: object, re: RegExp) => assert.throws(() => assertNoClash([a], { ...b, ...o }), code('Conflict', re), JSON.stringify(o));
  clash({ bridge: 'nimbobr0' }, /bridge nimbobr0 is already used by network default/);
  clash({ subnet: '10.77.0.0/16', gateway: '10.77.0.1' }, /overlaps 10\.77\.0\.0\/24 of network default/);
  clash({ ipv6: { subnet: 'fd00:0:0:1::/64', gateway: 'fd00:0:0:1::2' } }, /IPv6 subnet fd00:0:0:1::\/64 overlaps/);
  clash({ stateDir: a.stateDir }, /state directory/);
  clash({ vxlan: { ...b.vxlan, device: 'vx0' } }, /vxlan device vx0/);
  clash({ vxlan: { ...b.vxlan, vni: 7 } }, /VXLAN id 7 on UDP port 4789/);
  assertNoClash([a], { ...b, vxlan: { ...b.vxlan, vni: 7, port: 4790 } });
  clash({ bridge: 'vx0' }, /vxlan device of network default/);
  clash({ vxlan: { ...b.vxlan, device: 'nimbobr0' } }, /bridge of network default/);
});

test('validateReservations: IPv6 addresses inside the /64, unique, canonical', () => {
  const s = validateSpec({ ...spec, ipv6: { subnet: 'fd00:0:0:1::/64', gateway: 'fd00:0:0:1::1' } });
  const r = (ip: string, ipv6: string, n: number) => ({ mac: `52:54:00:00:00:0${n}`, ip, hostname: `vm${n}`, ipv6 });
  assert.deepEqual(validateReservations(s, [r('10.77.0.5', 'FD00:0:0:1:5054:FF:FE00:1', 1)])[0]?.ipv6, 'fd00::1:5054:ff:fe00:1');
  assert.throws(() => validateReservations(s, [r('10.77.0.5', 'fd00:0:0:2::5', 1)]), code('InvalidArgument', /not a host address inside/));
  assert.throws(() => validateReservations(s, [r('10.77.0.5', 'fd00:0:0:1::1', 1)]), code('InvalidArgument', /IPv6 gateway/));
  assert.throws(() => validateReservations(s, [r('10.77.0.5', 'fd00:0:0:1::5', 1), r('10.77.0.6', 'fd00:0:0:1::5', 2)]), code('Conflict', /IPv6 address/));
  assert.throws(() => validateReservations(validateSpec(spec), [r('10.77.0.5', 'fd00:0:0:1::5', 1)]), code('InvalidArgument', /has no IPv6/));
  assert.equal('ipv6' in validateReservations(s, [{ mac: '52:54:00:00:00:01', ip: '10.77.0.5', hostname: 'a' }])[0]!, false);
});
