import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeExec } from '../../../host/fake-exec.js';
import { MemoryNetFs } from '../memory-fs.js';
import { defaultRouteDevices6, enableIpForward, enableIpv6Forward, setRouteLocalnet, setSysctl } from './sysctl.js';

test('enableIpForward writes 1 only when needed', async () => {
  const fs = new MemoryNetFs();
  fs.files.set('/proc/sys/net/ipv4/ip_forward', { data: '0\n' });
  await enableIpForward(fs);
  assert.equal(fs.files.get('/proc/sys/net/ipv4/ip_forward')?.data, '1\n');
  fs.files.set('/proc/sys/net/ipv4/ip_forward', { data: '1\n', mode: 1 });
  await enableIpForward(fs);
  assert.equal(fs.files.get('/proc/sys/net/ipv4/ip_forward')?.mode, 1, 'not rewritten');
});

test('setSysctl skips a missing file and an equal value', async () => {
  const fs = new MemoryNetFs();
  assert.equal(await setSysctl(fs, '/proc/sys/x', '1'), false);
  assert.equal(fs.files.has('/proc/sys/x'), false);
  fs.files.set('/proc/sys/x', { data: '1\n', mode: 7 });
  assert.equal(await setSysctl(fs, '/proc/sys/x', '1'), true);
  assert.equal(fs.files.get('/proc/sys/x')?.mode, 7);
});

test('defaultRouteDevices6 reads plain and multipath default routes', () => {
  const json = JSON.stringify([
    { dst: 'fd00::/64', dev: 'eth0' },
    { dst: 'default', gateway: 'fe80::1', dev: 'eth0', protocol: 'ra' },
    { dst: 'default', nexthops: [{ gateway: 'fe80::2', dev: 'eth1' }, { gateway: 'fe80::3', dev: 'eth0' }] },
  ]);
  assert.deepEqual(defaultRouteDevices6(json), ['eth0', 'eth1']);
  assert.deepEqual(defaultRouteDevices6(''), []);
});

test('enableIpv6Forward keeps RAs on the uplink (accept_ra 1 -> 2, 0 untouched), then forwards', async () => {
  const fs = new MemoryNetFs();
  fs.files.set('/proc/sys/net/ipv6/conf/all/forwarding', { data: '0\n' });
  fs.files.set('/proc/sys/net/ipv6/conf/eth0/accept_ra', { data: '1\n' });
  fs.files.set('/proc/sys/net/ipv6/conf/eth1/accept_ra', { data: '0\n' });
  const exec = new FakeExec().on(['ip', '-j', '-6', 'route', 'show', 'default'], {
    stdout: JSON.stringify([{ dst: 'default', dev: 'eth0' }, { dst: 'default', dev: 'eth1' }]),
  });
  await enableIpv6Forward(fs, exec);
  assert.equal(fs.files.get('/proc/sys/net/ipv6/conf/eth0/accept_ra')?.data, '2\n');
  assert.equal(fs.files.get('/proc/sys/net/ipv6/conf/eth1/accept_ra')?.data, '0\n');
  assert.equal(fs.files.get('/proc/sys/net/ipv6/conf/all/forwarding')?.data, '1\n');
  exec.calls.length = 0;
  await enableIpv6Forward(fs, exec);
  assert.deepEqual(exec.calls, [], 'nothing to do once forwarding is on');
});

test('setRouteLocalnet: 1 or 0 on an existing bridge, skipped when absent', async () => {
  const fs = new MemoryNetFs();
  await setRouteLocalnet(fs, 'nimbobr0', true);
  assert.equal(fs.files.size, 0);
  fs.files.set('/proc/sys/net/ipv4/conf/nimbobr0/route_localnet', { data: '0\n' });
  await setRouteLocalnet(fs, 'nimbobr0', true);
  assert.equal(fs.files.get('/proc/sys/net/ipv4/conf/nimbobr0/route_localnet')?.data, '1\n');
  await setRouteLocalnet(fs, 'nimbobr0', false);
  assert.equal(fs.files.get('/proc/sys/net/ipv4/conf/nimbobr0/route_localnet')?.data, '0\n');
  await assert.rejects(setRouteLocalnet(fs, '../x', true), /bridge name/);
});
