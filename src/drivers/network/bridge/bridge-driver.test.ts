import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeExec } from '../../../host/fake-exec.js';
import { NimboError } from '../../../core/errors.js';
import { MemoryNetFs } from '../memory-fs.js';
import { BridgeNetworkDriver } from './bridge-driver.js';
import { renderNatRuleset } from '../firewall/nft-nat.js';
import type { NetworkSpec } from '../types.js';

const spec: NetworkSpec = {
  name: 'default',
  bridge: 'nimbobr0',
  subnet: '10.77.0.0/24',
  gateway: '10.77.0.1',
  nat: true,
  domain: 'nimbo',
  stateDir: '/s/default',
  nftTable: 'nimbo',
};
const other: NetworkSpec = { ...spec, name: 'iso', bridge: 'nimbobr1', subnet: '10.78.0.0/24', gateway: '10.78.0.1', nat: false, stateDir: '/s/iso' };
const vm1 = { mac: '52:54:00:00:00:01', ip: '10.77.0.10', hostname: 'vm1' };
const show = (dev: string) => ['ip', '-j', '-d', 'addr', 'show', 'dev', dev];
const missing = (dev: string) => ({ code: 1, stderr: `Device "${dev}" does not exist.\n` });
const link = (o: object) => ({ stdout: JSON.stringify([o]) });
const code = (c: string) => (e: unknown) => e instanceof NimboError && e.code === c;

/** A fake host: `dnsmasq --conf-file=DIR/dnsmasq.conf` "daemonizes" (pid file + /proc entry); signals kill it. */
function host() {
  const fs = new MemoryNetFs();
  const exec = new FakeExec().on(['ip', '-j', '-4', 'route'], { stdout: '[]' });
  let next = 100;
  const run = exec.run.bind(exec);
  exec.run = async (argv, opts) => {
    const res = await run(argv, opts);
    if (argv[0] === 'dnsmasq') {
      const conf = argv[1]!.slice('--conf-file='.length);
      const pid = next++;
      fs.files.set(conf.replace(/dnsmasq\.conf$/, 'dnsmasq.pid'), { data: `${pid}\n` });
      fs.files.set(`/proc/${pid}/cmdline`, { data: `dnsmasq\0${argv[1]}\0` });
      fs.files.set(`/proc/${pid}/stat`, { data: `${pid} (dnsmasq) S 1 1 1` });
      fs.live.add(pid);
    }
    return res;
  };
  fs.onKill = (pid, sig) => {
    if (sig !== 'SIGTERM') return;
    fs.files.delete(`/proc/${pid}/cmdline`);
    fs.files.delete(`/proc/${pid}/stat`);
  };
  const driver = new BridgeNetworkDriver({ exec, fs });
  return { fs, exec, driver };
}

test('ensure on a bare host creates bridge, address, dnsmasq files and process, nft table, ip_forward', async () => {
  const { fs, exec, driver } = host();
  exec.on(show('nimbobr0'), missing('nimbobr0'));
  await driver.ensure(spec, [vm1]);
  assert.deepEqual(exec.lines(), [
    'ip -j -d addr show dev nimbobr0',
    'ip -j -4 route show table all',
    'ip link add name nimbobr0 type bridge',
    'ip addr add 10.77.0.1/24 dev nimbobr0',
    'ip link set dev nimbobr0 up',
    'dnsmasq --conf-file=/s/default/dnsmasq.conf',
    'nft -f -',
  ]);
  assert.equal(exec.calls.at(-1)?.input, renderNatRuleset('nimbo', [spec]));
  assert.equal(fs.dirs.get('/s/default'), 0o755);
  assert.match(fs.files.get('/s/default/dhcp-hosts')!.data, /^52:54:00:00:00:01,10\.77\.0\.10,vm1$/m);
  assert.match(fs.files.get('/s/default/addn-hosts')!.data, /^10\.77\.0\.10 vm1\.nimbo vm1$/m);
  assert.match(fs.files.get('/s/default/dnsmasq.conf')!.data, /^interface=nimbobr0$/m);
  assert.equal(fs.files.get('/s/default/dhcp-hosts')!.mode, 0o644);
  assert.equal(fs.files.get('/proc/sys/net/ipv4/ip_forward')?.data, '1\n');
});

test('ensure again on a converged host only reloads dnsmasq and re-applies the table', async () => {
  const { fs, exec, driver } = host();
  exec.on(show('nimbobr0'), missing('nimbobr0'));
  await driver.ensure(spec, [vm1]);
  exec.on(show('nimbobr0'), link({ ifname: 'nimbobr0', flags: ['UP'], linkinfo: { info_kind: 'bridge' }, addr_info: [{ family: 'inet', local: '10.77.0.1', prefixlen: 24 }] }));
  exec.calls.length = 0;
  await driver.ensure(spec, [vm1]);
  assert.deepEqual(exec.lines(), ['ip -j -d addr show dev nimbobr0', 'nft -f -']);
  assert.deepEqual(fs.signals, ['SIGHUP 100']);
});

test('ensure restarts dnsmasq when its config changes and removes stale bridge addresses', async () => {
  const { fs, exec, driver } = host();
  exec.on(show('nimbobr0'), missing('nimbobr0'));
  await driver.ensure(spec, []);
  exec.on(show('nimbobr0'), link({ ifname: 'nimbobr0', flags: ['UP'], linkinfo: { info_kind: 'bridge' }, addr_info: [{ family: 'inet', local: '10.77.0.1', prefixlen: 24 }] }));
  exec.calls.length = 0;
  const moved = { ...spec, subnet: '10.79.0.0/24', gateway: '10.79.0.1' };
  await driver.ensure(moved, []);
  assert.deepEqual(exec.lines(), [
    'ip -j -d addr show dev nimbobr0',
    'ip -j -4 route show table all',
    'ip addr del 10.77.0.1/24 dev nimbobr0',
    'ip addr add 10.79.0.1/24 dev nimbobr0',
    'dnsmasq --conf-file=/s/default/dnsmasq.conf',
    'nft -f -',
  ]);
  assert.deepEqual(fs.signals, ['SIGTERM 100']);
  assert.equal(await fs.readText('/s/default/dnsmasq.pid'), '101\n');
});

test('ensure refuses a non-bridge device and an overlapping route, creating nothing', async () => {
  const { exec, driver } = host();
  exec.on(show('nimbobr0'), link({ ifname: 'nimbobr0', flags: [], linkinfo: { info_kind: 'veth' } }));
  await assert.rejects(driver.ensure(spec, []), code('Conflict'));
  exec.on(show('nimbobr0'), missing('nimbobr0'));
  exec.on(['ip', '-j', '-4', 'route'], { stdout: JSON.stringify([{ dst: '10.0.0.0/8', dev: 'wg0' }]) });
  await assert.rejects(driver.ensure(spec, []), (e: unknown) => code('Conflict')(e) && /10\.0\.0\.0\/8 dev wg0/.test((e as Error).message));
  assert.ok(!exec.lines().some((l) => /link add|addr add|dnsmasq|nft/.test(l)));
});

test('a failed ensure undoes the bridge and dnsmasq it created', async () => {
  const { fs, exec, driver } = host();
  exec.on(show('nimbobr0'), missing('nimbobr0'));
  exec.on(['nft'], { code: 1, stderr: 'Error: Could not process rule' });
  await assert.rejects(driver.ensure(spec, []), code('HostCommandFailed'));
  assert.deepEqual(exec.lines().slice(-2), ['nft -f -', 'ip link del dev nimbobr0']);
  assert.deepEqual(fs.signals, ['SIGTERM 100']);
});

test('ensure refuses a state dir dnsmasq could not read, before touching the host', async () => {
  const { fs, exec, driver } = host();
  fs.dirs.set('/s', 0o700);
  await assert.rejects(driver.ensure(spec, []), (e: unknown) => code('Conflict')(e) && /chmod o\+x/.test((e as Error).message));
  assert.deepEqual(exec.calls, []);
});

test('invalid input is rejected before any host command', async () => {
  const { exec, driver } = host();
  await assert.rejects(driver.ensure({ ...spec, bridge: 'nimbo-bridge-0001' }, []), code('InvalidArgument'));
  await assert.rejects(driver.ensure(spec, [{ ...vm1, ip: '10.99.0.1' }]), code('InvalidArgument'));
  await assert.rejects(driver.createTap('tap;rm', 'nimbobr0'), code('InvalidArgument'));
  await assert.rejects(driver.createTap('tap0', 'nimbobr0', '--evil'), code('InvalidArgument'));
  assert.deepEqual(exec.calls, []);
});

test('two networks share one table; clashing networks are refused', async () => {
  const { exec, driver } = host();
  exec.on(show('nimbobr0'), missing('nimbobr0')).on(show('nimbobr1'), missing('nimbobr1'));
  await driver.ensure(spec, []);
  await driver.ensure(other, []);
  assert.equal(exec.calls.at(-1)?.input, renderNatRuleset('nimbo', [spec, other]));
  await assert.rejects(driver.ensure({ ...other, name: 'x', bridge: 'nimbobr2', stateDir: '/s/x' }, []), code('Conflict'));
  await assert.rejects(driver.ensure({ ...other, name: 'y', subnet: '10.90.0.0/24', gateway: '10.90.0.1', stateDir: '/s/y' }, []), code('Conflict'));
});

test('applyFirewall declares the full list; removeFirewall deletes the table', async () => {
  const { exec, driver } = host();
  await driver.applyFirewall([spec, other]);
  assert.equal(exec.calls.at(-1)?.input, renderNatRuleset('nimbo', [spec, other]));
  await driver.applyFirewall([other]);
  assert.equal(exec.calls.at(-1)?.input, renderNatRuleset('nimbo', [other]));
  await driver.removeFirewall('nimbo');
  assert.equal(exec.calls.at(-1)?.input, 'table inet nimbo {}\ndelete table inet nimbo\n');
});

test('remove stops dnsmasq, deletes bridge and files, and drops the last table', async () => {
  const { fs, exec, driver } = host();
  exec.on(show('nimbobr0'), missing('nimbobr0'));
  await driver.ensure(spec, [vm1]);
  exec.on(show('nimbobr0'), link({ ifname: 'nimbobr0', flags: ['UP'], linkinfo: { info_kind: 'bridge' } }));
  exec.calls.length = 0;
  await driver.remove(spec);
  assert.deepEqual(exec.lines(), ['ip -j -d addr show dev nimbobr0', 'ip link del dev nimbobr0', 'nft -f -']);
  assert.equal(exec.calls.at(-1)?.input, 'table inet nimbo {}\ndelete table inet nimbo\n');
  assert.deepEqual(fs.signals, ['SIGTERM 100']);
  assert.deepEqual([...fs.files.keys()].filter((f) => f.startsWith('/s/')), []);
  assert.equal(fs.dirs.has('/s/default'), false);
});

test('createTap: new tap with owner, idempotent when attached, refuses non-taps and missing bridges', async () => {
  const { exec, driver } = host();
  exec.on(show('nimbobr0'), link({ ifname: 'nimbobr0', flags: ['UP'], linkinfo: { info_kind: 'bridge' } }));
  exec.on(show('tap0'), missing('tap0'));
  await driver.createTap('tap0', 'nimbobr0', 'nimbo-qemu');
  assert.deepEqual(exec.lines().slice(2), ['ip tuntap add dev tap0 mode tap vnet_hdr user nimbo-qemu', 'ip link set dev tap0 master nimbobr0 up']);
  exec.on(show('tap0'), link({ ifname: 'tap0', flags: ['UP'], master: 'nimbobr0', linkinfo: { info_kind: 'tun' } }));
  exec.calls.length = 0;
  await driver.createTap('tap0', 'nimbobr0');
  assert.equal(exec.calls.length, 2, 'only the two look-ups');
  exec.on(show('eth0'), link({ ifname: 'eth0', flags: ['UP'] }));
  await assert.rejects(driver.createTap('eth0', 'nimbobr0'), code('Conflict'));
  exec.on(show('nobr'), missing('nobr'));
  await assert.rejects(driver.createTap('tap1', 'nobr'), code('NotFound'));
});

test('createTap deletes a tap it created when attaching fails', async () => {
  const { exec, driver } = host();
  exec.on(show('nimbobr0'), link({ ifname: 'nimbobr0', flags: ['UP'], linkinfo: { info_kind: 'bridge' } }));
  exec.on(show('tap0'), missing('tap0'));
  exec.on(['ip', 'link', 'set'], { code: 2, stderr: 'RTNETLINK answers: Device or resource busy' });
  await assert.rejects(driver.createTap('tap0', 'nimbobr0'), code('HostCommandFailed'));
  assert.equal(exec.lines().at(-1), 'ip link del dev tap0');
});

test('deleteTap: no error when absent, refuses non-tap devices', async () => {
  const { exec, driver } = host();
  exec.on(show('tap0'), missing('tap0'));
  await driver.deleteTap('tap0');
  assert.equal(await driver.tapExists('tap0'), false);
  exec.on(show('tap1'), link({ ifname: 'tap1', flags: [], linkinfo: { info_kind: 'tun' } }));
  await driver.deleteTap('tap1');
  assert.equal(exec.lines().at(-1), 'ip link del dev tap1');
  exec.on(show('eth0'), link({ ifname: 'eth0', flags: ['UP'] }));
  await assert.rejects(driver.deleteTap('eth0'), code('Conflict'));
  assert.equal(await driver.tapExists('eth0'), true);
});

test('concurrent calls are serialized: two ensure() calls create the bridge once', async () => {
  const { exec, driver } = host();
  let created = false;
  const run = exec.run.bind(exec);
  exec.run = async (argv, opts) => {
    if (argv.join(' ') === 'ip -j -d addr show dev nimbobr0' && created) {
      return { code: 0, stderr: '', stdout: JSON.stringify([{ ifname: 'nimbobr0', flags: ['UP'], linkinfo: { info_kind: 'bridge' }, addr_info: [{ family: 'inet', local: '10.77.0.1', prefixlen: 24 }] }]) };
    }
    if (argv.join(' ').startsWith('ip link add')) created = true;
    return run(argv, opts);
  };
  exec.on(show('nimbobr0'), missing('nimbobr0'));
  await Promise.all([driver.ensure(spec, []), driver.ensure(spec, [vm1])]);
  assert.equal(exec.lines().filter((l) => l.startsWith('ip link add')).length, 1);
  assert.equal(exec.lines().filter((l) => l.startsWith('dnsmasq')).length, 1);
});

test('applyFirewall refuses clashing networks and keeps the previous list', async () => {
  const { exec, driver } = host();
  await driver.applyFirewall([spec]);
  await assert.rejects(driver.applyFirewall([spec, { ...other, subnet: spec.subnet, gateway: spec.gateway }]), code('Conflict'));
  exec.calls.length = 0;
  await driver.applyFirewall([spec]);
  assert.equal(exec.calls[0]?.input, renderNatRuleset('nimbo', [spec]));
});
