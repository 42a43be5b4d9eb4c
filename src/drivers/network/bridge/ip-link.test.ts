import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeExec } from '../../../host/fake-exec.js';
import { assertSubnet6Free, assertSubnetFree, listPorts, overlappingRoutes, overlappingRoutes6, parseLinkJson, showLink } from './ip-link.js';

const bridgeJson = JSON.stringify([
  {
    ifname: 'nimbobr0',
    flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
    linkinfo: { info_kind: 'bridge' },
    mtu: 1500,
    addr_info: [
      { family: 'inet', local: '10.77.0.1', prefixlen: 24 },
      { family: 'inet6', local: 'fd00:77::1', prefixlen: 64, scope: 'global', nodad: true },
      { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' },
    ],
  },
]);

test('parseLinkJson', () => {
  assert.deepEqual(parseLinkJson(bridgeJson), {
    name: 'nimbobr0',
    kind: 'bridge',
    master: null,
    up: true,
    ipv4: ['10.77.0.1/24'],
    ipv6: ['fd00:77::1/64'],
    mtu: 1500,
    vxlan: null,
  });
  assert.deepEqual(parseLinkJson(JSON.stringify([{ ifname: 'tap0', flags: ['BROADCAST'], master: 'nimbobr0', linkinfo: { info_kind: 'tun' } }])), {
    name: 'tap0',
    kind: 'tun',
    master: 'nimbobr0',
    up: false,
    ipv4: [],
    ipv6: [],
    mtu: 0,
    vxlan: null,
  });
  const vx = parseLinkJson(
    JSON.stringify([
      {
        ifname: 'nimbovx0',
        flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
        mtu: 1450,
        master: 'nimbobr0',
        linkinfo: { info_kind: 'vxlan', info_data: { id: 42, local: '10.9.9.1', port_range: { low: 0, high: 0 }, port: 4789, learning: false }, info_slave_kind: 'bridge' },
      },
    ]),
  );
  assert.deepEqual(vx?.vxlan, { vni: 42, local: '10.9.9.1', port: 4789, learning: false });
  assert.equal(vx?.mtu, 1450);
  assert.equal(parseLinkJson('[]'), null);
});

test('showLink: null for a missing device, error for anything else', async () => {
  const exec = new FakeExec()
    .on(['ip', '-j', '-d', 'addr', 'show', 'dev', 'gone'], { code: 1, stderr: 'Device "gone" does not exist.\n' })
    .on(['ip', '-j', '-d', 'addr', 'show', 'dev', 'weird'], { code: 2, stderr: 'RTNETLINK answers: Operation not permitted\n' })
    .on(['ip', '-j', '-d', 'addr', 'show', 'dev', 'nimbobr0'], { stdout: bridgeJson });
  assert.equal(await showLink(exec, 'gone'), null);
  assert.equal((await showLink(exec, 'nimbobr0'))?.kind, 'bridge');
  await assert.rejects(showLink(exec, 'weird'), /not permitted/);
});

const routes = JSON.stringify([
  { dst: 'default', gateway: '192.0.2.1', dev: 'eth0' },
  { dst: '192.0.2.0/24', dev: 'eth0' },
  { dst: '10.0.0.0/8', dev: 'wg0' },
  { type: 'local', dst: '192.0.2.2', dev: 'eth0', table: 'local' },
  { type: 'broadcast', dst: '10.77.0.255', dev: 'nimbobr0', table: 'local' },
  { dst: '10.77.0.0/24', dev: 'nimbobr0' },
]);

test('overlappingRoutes ignores default, own device and broadcast entries', () => {
  assert.deepEqual(overlappingRoutes(routes, '10.250.3.0/24', 'nimbobr0'), ['10.0.0.0/8 dev wg0']);
  assert.deepEqual(overlappingRoutes(routes, '192.0.2.0/28', 'nimbobr0'), ['192.0.2.0/24 dev eth0', '192.0.2.2 dev eth0']);
  assert.deepEqual(overlappingRoutes(routes, '172.16.0.0/24', 'nimbobr0'), []);
  assert.deepEqual(overlappingRoutes(routes, '10.77.0.0/24', 'other').length, 2);
});

test('assertSubnetFree throws Conflict naming the route', async () => {
  const exec = new FakeExec().on(['ip', '-j', '-4', 'route'], { stdout: routes });
  await assertSubnetFree(exec, '172.16.0.0/24', 'x');
  await assert.rejects(assertSubnetFree(exec, '10.9.0.0/24', 'x'), (e: any) => e.code === 'Conflict' && /10\.0\.0\.0\/8 dev wg0/.test(e.message));
});

test('listPorts: the ports of a bridge, empty when the bridge is gone', async () => {
  const exec = new FakeExec()
    .on(['ip', '-j', '-d', 'link', 'show', 'master', 'nimbobr0'], { stdout: JSON.stringify([{ ifname: 'tap0', flags: ['UP'], master: 'nimbobr0', linkinfo: { info_kind: 'tun' } }]) })
    .on(['ip', '-j', '-d', 'link', 'show', 'master', 'gone'], { code: 1, stderr: 'Device "gone" does not exist.\n' });
  assert.deepEqual((await listPorts(exec, 'nimbobr0')).map((p) => p.name), ['tap0']);
  assert.deepEqual(await listPorts(exec, 'gone'), []);
});

const routes6 = JSON.stringify([
  { dst: 'fd00::/64', dev: 'eth0' },
  { dst: 'fe80::/64', dev: 'eth0' },
  { dst: 'fe80::/64', dev: 'nimbobr0' },
  { dst: 'default', gateway: 'fd00::1', dev: 'eth0' },
  { type: 'local', dst: 'fd00::2', dev: 'eth0', table: 'local' },
  { type: 'multicast', dst: 'ff00::/8', dev: 'eth0', table: 'local' },
  { dst: 'fd77::/64', dev: 'nimbobr0' },
]);

test('overlappingRoutes6 ignores default, link-local, multicast and the own device', () => {
  assert.deepEqual(overlappingRoutes6(routes6, 'fd00::/64', 'nimbobr0'), ['fd00::/64 dev eth0', 'fd00::2 dev eth0']);
  assert.deepEqual(overlappingRoutes6(routes6, 'fd77::/64', 'nimbobr0'), []);
  assert.deepEqual(overlappingRoutes6(routes6, 'fd77::/64', 'other'), ['fd77::/64 dev nimbobr0']);
  assert.deepEqual(overlappingRoutes6(routes6, 'fe80::/64', 'x'), []);
});

test('assertSubnet6Free throws Conflict naming the route', async () => {
  const exec = new FakeExec().on(['ip', '-j', '-6', 'route'], { stdout: routes6 });
  await assertSubnet6Free(exec, 'fd99::/64', 'x');
  await assert.rejects(assertSubnet6Free(exec, 'fd00::/64', 'x'), (e: any) => e.code === 'Conflict' && /IPv6 subnet fd00::\/64 overlaps .*fd00::\/64 dev eth0/.test(e.message));
});
