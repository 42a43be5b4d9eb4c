import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeExec } from '../../../host/fake-exec.js';
import { assertSubnetFree, overlappingRoutes, parseLinkJson, showLink } from './ip-link.js';

const bridgeJson = JSON.stringify([
  {
    ifname: 'nimbobr0',
    flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
    linkinfo: { info_kind: 'bridge' },
    addr_info: [
      { family: 'inet', local: '10.77.0.1', prefixlen: 24 },
      { family: 'inet6', local: 'fe80::1', prefixlen: 64 },
    ],
  },
]);

test('parseLinkJson', () => {
  assert.deepEqual(parseLinkJson(bridgeJson), { name: 'nimbobr0', kind: 'bridge', master: null, up: true, ipv4: ['10.77.0.1/24'] });
  assert.deepEqual(parseLinkJson(JSON.stringify([{ ifname: 'tap0', flags: ['BROADCAST'], master: 'nimbobr0', linkinfo: { info_kind: 'tun' } }])), {
    name: 'tap0',
    kind: 'tun',
    master: 'nimbobr0',
    up: false,
    ipv4: [],
  });
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
