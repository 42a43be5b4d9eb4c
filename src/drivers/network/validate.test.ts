import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NimboError } from '../../core/errors.js';
import { validateDomain, validateIfName, validateOwner, validateReservations, validateSpec, validateStateDir } from './validate.js';
import type { NetworkSpec } from './types.js';

const spec: NetworkSpec = {
  name: 'default',
  bridge: 'nimbobr0',
  subnet: '10.77.0.0/24',
  gateway: '10.77.0.1',
  nat: true,
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
  assert.throws(() => validateSpec({ ...spec, subnet: '10.77.0.0/31', gateway: '10.77.0.1' }), code('InvalidArgument', /\/8 and \/30/));
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
