import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeExec } from '../../../host/fake-exec.js';
import { NimboError } from '../../../lib/errors.js';
import { MemoryNetFs } from '../memory-fs.js';
import { BridgeNetworkDriver, renderTable } from './bridge-driver.js';
import { renderRulesetRemoval } from '../firewall/ruleset.js';
import { EMPTY_POLICY, type FirewallPolicy, type NetworkSpec } from '../types.js';

const renderNatRuleset = (table: string, nets: NetworkSpec[], policy: FirewallPolicy = EMPTY_POLICY) => renderTable(table, nets, policy);
const removal = renderRulesetRemoval('nimbo');

const spec: NetworkSpec = {
  name: 'default',
  bridge: 'nimbobr0',
  subnet: '10.77.0.0/24',
  gateway: '10.77.0.1',
  mode: 'nat',
  domain: 'nimbo',
  stateDir: '/s/default',
  nftTable: 'nimbo',
};
const other: NetworkSpec = { ...spec, name: 'iso', bridge: 'nimbobr1', subnet: '10.78.0.0/24', gateway: '10.78.0.1', mode: 'isolated', stateDir: '/s/iso' };
const vm1 = { mac: '52:54:00:00:00:01', ip: '10.77.0.10', hostname: 'vm1' };
const show = (dev: string) => ['ip', '-j', '-d', 'addr', 'show', 'dev', dev];
const ports = (br: string) => ['ip', '-j', '-d', 'link', 'show', 'master', br];
const missing = (dev: string) => ({ code: 1, stderr: `Device "${dev}" does not exist.\n` });
const link = (o: object) => ({ stdout: JSON.stringify([o]) });
const code = (c: string) => (e: unknown) => e instanceof NimboError && e.code === c;

/** A fake host: `dnsmasq --conf-file=DIR/dnsmasq.conf` "daemonizes" (pid file + /proc entry); signals kill it. */
function host() {
  const fs = new MemoryNetFs();
  const exec = new FakeExec().on(['ip', '-j', '-4', 'route'], { stdout: '[]' }).on(['ip', '-j', '-6', 'route'], { stdout: '[]' });
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
    'nft -f -',
    'dnsmasq --conf-file=/s/default/dnsmasq.conf',
  ]);
  assert.equal(exec.calls.at(-2)?.input, renderNatRuleset('nimbo', [spec]));
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
  assert.deepEqual(exec.lines(), ['ip -j -d addr show dev nimbobr0', 'ip -j -d link show master nimbobr0', 'nft -f -']);
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
    'ip -j -d link show master nimbobr0',
    'nft -f -',
    'dnsmasq --conf-file=/s/default/dnsmasq.conf',
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

test('a failed ensure undoes the bridge it created (nft refuses the ruleset: dnsmasq never starts)', async () => {
  const { fs, exec, driver } = host();
  exec.on(show('nimbobr0'), missing('nimbobr0'));
  exec.on(['nft'], { code: 1, stderr: 'Error: Could not process rule' });
  await assert.rejects(driver.ensure(spec, []), code('HostCommandFailed'));
  assert.deepEqual(exec.lines().slice(-3), ['nft -f -', 'nft -f -', 'ip link del dev nimbobr0']);
  assert.ok(!exec.lines().some((l) => l.startsWith('dnsmasq')));
  assert.deepEqual(fs.signals, []);
});

test('a failed dnsmasq start re-renders the ruleset without the network and deletes the bridge', async () => {
  const { exec, driver } = host();
  exec.on(show('nimbobr0'), missing('nimbobr0'));
  exec.on(['dnsmasq'], { code: 2, stderr: 'dnsmasq: failed to create listening socket' });
  await assert.rejects(driver.ensure(spec, []), code('HostCommandFailed'));
  assert.deepEqual(exec.lines().slice(-4), ['nft -f -', 'dnsmasq --conf-file=/s/default/dnsmasq.conf', 'nft -f -', 'ip link del dev nimbobr0']);
  assert.equal(exec.calls.at(-2)?.input, removal);
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
  assert.equal(exec.calls.filter((c) => c.argv[0] === 'nft').at(-1)?.input, renderNatRuleset('nimbo', [spec, other]));
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
  assert.equal(exec.calls.at(-1)?.input, removal);
});

test('remove stops dnsmasq, deletes bridge and files, and drops the last table', async () => {
  const { fs, exec, driver } = host();
  exec.on(show('nimbobr0'), missing('nimbobr0'));
  await driver.ensure(spec, [vm1]);
  exec.on(show('nimbobr0'), link({ ifname: 'nimbobr0', flags: ['UP'], linkinfo: { info_kind: 'bridge' } }));
  exec.calls.length = 0;
  await driver.remove(spec);
  assert.deepEqual(exec.lines(), ['ip -j -d addr show dev nimbobr0', 'ip -j -d link show master nimbobr0', 'ip link del dev nimbobr0', 'nft -f -']);
  assert.equal(exec.calls.at(-1)?.input, removal);
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

const v6spec: NetworkSpec = { ...spec, ipv6: { subnet: 'fd00:77::/64', gateway: 'fd00:77::1' } };
const bridgeUp = (v4: string[], v6: string[] = []) =>
  link({
    ifname: 'nimbobr0',
    flags: ['UP'],
    linkinfo: { info_kind: 'bridge' },
    addr_info: [
      ...v4.map((a) => ({ family: 'inet', local: a.split('/')[0], prefixlen: Number(a.split('/')[1]), scope: 'global' })),
      ...v6.map((a) => ({ family: 'inet6', local: a.split('/')[0], prefixlen: Number(a.split('/')[1]), scope: 'global' })),
      { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' },
    ],
  });

test('IPv6: the gateway/64 is added without DAD, stale global addresses go, IPv6 forwarding keeps uplink RAs', async () => {
  const { fs, exec, driver } = host();
  fs.files.set('/proc/sys/net/ipv6/conf/all/forwarding', { data: '0\n' });
  fs.files.set('/proc/sys/net/ipv6/conf/eth0/accept_ra', { data: '1\n' });
  exec.on(['ip', '-j', '-6', 'route', 'show', 'default'], { stdout: JSON.stringify([{ dst: 'default', dev: 'eth0', protocol: 'ra' }]) });
  exec.on(show('nimbobr0'), missing('nimbobr0'));
  await driver.ensure(v6spec, [{ ...vm1, ipv6: 'fd00:77::5054:ff:fe00:1' }]);
  assert.deepEqual(exec.lines(), [
    'ip -j -d addr show dev nimbobr0',
    'ip -j -4 route show table all',
    'ip -j -6 route show table all',
    'ip link add name nimbobr0 type bridge',
    'ip addr add 10.77.0.1/24 dev nimbobr0',
    'ip -6 addr add fd00:77::1/64 dev nimbobr0 nodad',
    'ip link set dev nimbobr0 up',
    'nft -f -',
    'ip -j -6 route show default',
    'dnsmasq --conf-file=/s/default/dnsmasq.conf',
  ]);
  assert.equal(exec.calls.find((c) => c.argv[0] === 'nft')?.input, renderNatRuleset('nimbo', [v6spec]));
  assert.equal(fs.files.get('/proc/sys/net/ipv6/conf/eth0/accept_ra')?.data, '2\n');
  assert.equal(fs.files.get('/proc/sys/net/ipv6/conf/all/forwarding')?.data, '1\n');
  assert.match(fs.files.get('/s/default/addn-hosts')!.data, /^fd00:77::5054:ff:fe00:1 vm1\.nimbo vm1$/m);
  assert.match(fs.files.get('/s/default/dnsmasq.conf')!.data, /^dhcp-range=fd00:77::,ra-stateless,64,12h$/m);

  exec.on(show('nimbobr0'), bridgeUp(['10.77.0.1/24'], ['fd00:99::1/64']));
  exec.calls.length = 0;
  await driver.ensure(v6spec, []);
  assert.deepEqual(exec.lines().slice(0, 4), [
    'ip -j -d addr show dev nimbobr0',
    'ip -j -6 route show table all',
    'ip -6 addr del fd00:99::1/64 dev nimbobr0',
    'ip -6 addr add fd00:77::1/64 dev nimbobr0 nodad',
  ]);
  exec.on(show('nimbobr0'), bridgeUp(['10.77.0.1/24'], ['fd00:77::1/64']));
  exec.calls.length = 0;
  await driver.ensure(spec, []); // IPv6 switched off: the address goes
  assert.ok(exec.lines().includes('ip -6 addr del fd00:77::1/64 dev nimbobr0'));
});

test('IPv6 forwarding stays off for isolated IPv6 networks, IPv4 forwarding for isolated ones', async () => {
  const { fs, exec, driver } = host();
  exec.on(show('nimbobr0'), missing('nimbobr0'));
  await driver.ensure({ ...v6spec, mode: 'isolated' }, []);
  assert.equal(fs.files.has('/proc/sys/net/ipv6/conf/all/forwarding'), false);
  assert.equal(fs.files.has('/proc/sys/net/ipv4/ip_forward'), false);
  await driver.ensure({ ...v6spec, mode: 'routed' }, []);
  assert.equal(fs.files.get('/proc/sys/net/ipv6/conf/all/forwarding')?.data, '1\n');
  assert.equal(fs.files.get('/proc/sys/net/ipv4/ip_forward')?.data, '1\n');
});

const vx = { device: 'nimbovx0', vni: 4242, local: '192.168.77.1', port: 4789, peers: ['192.168.77.2', '192.168.77.3'] };
const vxspec: NetworkSpec = { ...spec, vxlan: vx };
const vxLink = (o: object = {}) => ({
  ifname: 'nimbovx0',
  flags: ['UP', 'LOWER_UP'],
  mtu: 1450,
  master: 'nimbobr0',
  linkinfo: { info_kind: 'vxlan', info_data: { id: 4242, local: '192.168.77.1', port: 4789, learning: false } },
  ...o,
});
const fdb = (...peers: string[]) => ({ stdout: JSON.stringify([{ mac: '1a:00:00:00:00:01', master: 'nimbobr0', state: 'permanent' }, ...peers.map((dst) => ({ mac: '00:00:00:00:00:00', dst, flags: ['self'], state: 'permanent' }))]) });

test('VXLAN on a bare host: device, MTU, port of the bridge, one flooding entry per peer, DHCP MTU', async () => {
  const { fs, exec, driver } = host();
  exec.on(show('nimbobr0'), missing('nimbobr0')).on(show('nimbovx0'), missing('nimbovx0'));
  await driver.ensure(vxspec, []);
  assert.deepEqual(exec.lines(), [
    'ip -j -d addr show dev nimbobr0',
    'ip -j -4 route show table all',
    'ip link add name nimbobr0 type bridge',
    'ip addr add 10.77.0.1/24 dev nimbobr0',
    'ip link set dev nimbobr0 up',
    'ip -j -d addr show dev nimbovx0',
    'ip link add nimbovx0 type vxlan id 4242 local 192.168.77.1 dstport 4789 nolearning',
    'ip link set dev nimbovx0 mtu 1450 master nimbobr0 up',
    'bridge fdb append 00:00:00:00:00:00 dev nimbovx0 dst 192.168.77.2',
    'bridge fdb append 00:00:00:00:00:00 dev nimbovx0 dst 192.168.77.3',
    'nft -f -',
    'dnsmasq --conf-file=/s/default/dnsmasq.conf',
  ]);
  assert.match(fs.files.get('/s/default/dnsmasq.conf')!.data, /^dhcp-option=option:mtu,1450$/m);
  assert.match(exec.calls.at(-2)!.input!, /oifname "nimbovx0" jump net_overlay_local/);
});

test('VXLAN re-ensure: converged changes nothing; a removed peer loses its entry; no duplicates', async () => {
  const { exec, driver } = host();
  exec.on(show('nimbobr0'), bridgeUp(['10.77.0.1/24']));
  exec.on(ports('nimbobr0'), link(vxLink()));
  exec.on(['bridge', '-j', 'fdb', 'show', 'dev', 'nimbovx0'], fdb('192.168.77.2', '192.168.77.3'));
  await driver.ensure(vxspec, []);
  await driver.ensure(vxspec, []);
  assert.ok(!exec.lines().some((l) => /^ip link (add|set|del)|^bridge fdb (append|del)/.test(l)), exec.lines().join('\n'));
  exec.calls.length = 0;
  await driver.ensure({ ...vxspec, vxlan: { ...vx, peers: ['192.168.77.3', '192.168.77.4'] } }, []);
  assert.deepEqual(
    exec.lines().filter((l) => l.startsWith('bridge fdb ')),
    ['bridge fdb del 00:00:00:00:00:00 dev nimbovx0 dst 192.168.77.2', 'bridge fdb append 00:00:00:00:00:00 dev nimbovx0 dst 192.168.77.4'],
  );
});

test('VXLAN: changed id/local/port recreates the device; a detached or down device is re-attached', async () => {
  const { exec, driver } = host();
  exec.on(show('nimbobr0'), bridgeUp(['10.77.0.1/24']));
  exec.on(ports('nimbobr0'), link(vxLink()));
  exec.on(['bridge', '-j', 'fdb', 'show', 'dev', 'nimbovx0'], fdb('192.168.77.2', '192.168.77.3'));
  await driver.ensure({ ...vxspec, vxlan: { ...vx, vni: 7 } }, []);
  const l = exec.lines();
  assert.deepEqual(l.slice(l.indexOf('ip link del dev nimbovx0'), l.indexOf('ip link del dev nimbovx0') + 5), [
    'ip link del dev nimbovx0',
    'ip link add nimbovx0 type vxlan id 7 local 192.168.77.1 dstport 4789 nolearning',
    'ip link set dev nimbovx0 mtu 1450 master nimbobr0 up',
    'bridge fdb append 00:00:00:00:00:00 dev nimbovx0 dst 192.168.77.2',
    'bridge fdb append 00:00:00:00:00:00 dev nimbovx0 dst 192.168.77.3',
  ]);
  // Not a port of the bridge any more (e.g. after the bridge was recreated by hand): re-attached, not recreated.
  exec.calls.length = 0;
  exec.on(ports('nimbobr0'), { stdout: '[]' });
  exec.on(show('nimbovx0'), link(vxLink({ master: undefined, flags: [], mtu: 1500 })));
  await driver.ensure(vxspec, []);
  assert.ok(exec.lines().includes('ip link set dev nimbovx0 mtu 1450 master nimbobr0 up'));
  assert.ok(!exec.lines().some((l) => /ip link (add|del)/.test(l)));
});

test('VXLAN: a stale overlay port is deleted; a foreign device name is refused', async () => {
  const { exec, driver } = host();
  exec.on(show('nimbobr0'), bridgeUp(['10.77.0.1/24']));
  exec.on(ports('nimbobr0'), link(vxLink({ ifname: 'oldvx' })));
  await driver.ensure(spec, []);
  assert.ok(exec.lines().includes('ip link del dev oldvx'));
  exec.on(ports('nimbobr0'), { stdout: '[]' });
  exec.on(show('nimbovx0'), link({ ifname: 'nimbovx0', flags: ['UP'], linkinfo: { info_kind: 'veth' } }));
  await assert.rejects(driver.ensure(vxspec, []), (e: unknown) => code('Conflict')(e) && /not a vxlan device/.test((e as Error).message));
  exec.on(show('nimbovx0'), link(vxLink({ master: 'otherbr' })));
  await assert.rejects(driver.ensure(vxspec, []), (e: unknown) => code('Conflict')(e) && /port of otherbr/.test((e as Error).message));
});

test('VXLAN: remove() deletes the device before the bridge', async () => {
  const { exec, driver } = host();
  exec.on(show('nimbobr0'), bridgeUp(['10.77.0.1/24']));
  exec.on(ports('nimbobr0'), link(vxLink()));
  await driver.remove(vxspec);
  assert.deepEqual(exec.lines(), ['ip -j -d addr show dev nimbobr0', 'ip -j -d link show master nimbobr0', 'ip link del dev nimbovx0', 'ip link del dev nimbobr0', 'nft -f -']);
});

test('VXLAN: clashing ids and device names between networks are refused', async () => {
  const { exec, driver } = host();
  exec.on(show('nimbobr0'), missing('nimbobr0')).on(show('nimbovx0'), missing('nimbovx0'));
  await driver.ensure(vxspec, []);
  await assert.rejects(driver.ensure({ ...other, vxlan: { ...vx, device: 'nimbovx1' } }, []), (e: unknown) => code('Conflict')(e) && /VXLAN id 4242/.test((e as Error).message));
  await assert.rejects(driver.ensure({ ...other, vxlan: { ...vx, vni: 1 } }, []), (e: unknown) => code('Conflict')(e) && /vxlan device nimbovx0/.test((e as Error).message));
});

const policy: FirewallPolicy = {
  groups: [{ name: 'web', rules: [{ id: 'http', direction: 'ingress', protocol: 'tcp', ports: { from: 80, to: 80 } }] }],
  ports: [{ tap: 'tap0', mac: '52:54:00:00:00:01', ipv4: ['10.77.0.10'], ipv6: [], groups: ['web'] }],
  forwards: [{ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 8080, targetAddress: '10.77.0.10', targetPort: 80 }],
  floating: [],
};

test('setPolicy: one nft -f - with networks, security groups and forwards; route_localnet for loopback forwards', async () => {
  const { fs, exec, driver } = host();
  fs.files.set('/proc/sys/net/ipv4/conf/nimbobr0/route_localnet', { data: '0\n' });
  await driver.applyFirewall([spec, other]);
  exec.calls.length = 0;
  await driver.setPolicy('nimbo', policy);
  assert.deepEqual(exec.lines(), ['nft -f -']);
  const script = exec.calls[0]!.input!;
  assert.equal(script, renderNatRuleset('nimbo', [spec, other], policy));
  for (const name of ['chain net_forward', 'chain sg_', 'ip daddr . tcp dport', 'table bridge nimbo {']) assert.ok(script.includes(name), name);
  assert.match(script, /10\.77\.0\.0\/24, 10\.78\.0\.0\/24|10\.77\.0\.0\/24,\s*10\.78\.0\.0\/24/, 'guest subnets for hairpin NAT');
  assert.equal(script.match(/^table inet nimbo \{$/gm)?.length, 1);
  assert.equal(fs.files.get('/proc/sys/net/ipv4/conf/nimbobr0/route_localnet')?.data, '1\n');
  // Re-applying renders exactly the same script (create, delete, declare: never duplicates).
  await driver.applyFirewall([spec, other]);
  assert.equal(exec.calls.at(-1)!.input, script);
  await driver.setPolicy('nimbo', { ...policy, forwards: [{ ...policy.forwards[0]!, hostAddress: '192.0.2.10' }] });
  assert.equal(fs.files.get('/proc/sys/net/ipv4/conf/nimbobr0/route_localnet')?.data, '0\n');
});

test('setPolicy: an invalid policy or an nft failure keeps the previous policy', async () => {
  const { exec, driver } = host();
  await driver.applyFirewall([spec]);
  await driver.setPolicy('nimbo', policy);
  await assert.rejects(driver.setPolicy('nimbo', { ...policy, forwards: [{ ...policy.forwards[0]!, hostPort: 0 }] }), code('InvalidArgument'));
  exec.on(['nft'], { code: 1, stderr: 'Error' });
  await assert.rejects(driver.setPolicy('nimbo', EMPTY_POLICY), code('HostCommandFailed'));
  exec.on(['nft'], { code: 0 });
  exec.calls.length = 0;
  await driver.applyFirewall([spec]);
  assert.equal(exec.calls[0]!.input, renderNatRuleset('nimbo', [spec], policy));
  await assert.rejects(driver.setPolicy('bad table', policy), code('InvalidArgument'));
});

test('restart: setPolicy before applyFirewall replaces the ruleset exactly once, with both parts', async () => {
  const { exec, driver } = host();
  await driver.setPolicy('nimbo', policy);
  assert.equal(exec.calls.length, 0, 'recorded, not applied: the networks are not known yet');
  await assert.rejects(driver.setPolicy('nimbo', { ...policy, ports: [{ ...policy.ports[0]!, tap: 'bad tap' }] }), code('InvalidArgument'));
  await driver.applyFirewall([spec, other]);
  assert.deepEqual(exec.lines(), ['nft -f -']);
  assert.equal(exec.calls[0]!.input, renderNatRuleset('nimbo', [spec, other], policy));
  await driver.setPolicy('nimbo', EMPTY_POLICY);
  assert.equal(exec.calls.at(-1)!.input, renderNatRuleset('nimbo', [spec, other]), 'applied at once from now on');
});

test('a policy without networks still renders; removeFirewall forgets networks and policy', async () => {
  const { exec, driver } = host();
  await driver.applyFirewall([]);
  await driver.setPolicy('nimbo', policy);
  assert.deepEqual(exec.lines(), ['nft -f -']);
  assert.equal(exec.calls.at(-1)!.input, renderNatRuleset('nimbo', [], policy));
  await driver.removeFirewall('nimbo');
  assert.equal(exec.calls.at(-1)!.input, removal);
  exec.calls.length = 0;
  await driver.applyFirewall([]);
  assert.deepEqual(exec.calls, [], 'nothing known, nothing to do');
});
