import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tapName } from './instance-nics-plan.js';
import { ifbNameFor } from '../drivers/network/qos/tc-render.js';
import {
  checkPurgePrefix, checkStateDirForRemoval, isNimboTable, isNimbodArgv, linksToPurge, loopsToPurge, mountsToPurge, netnsToPurge, parseNetnsList, processesToPurge,
} from './purge-plan.js';

const UUID = '0123abcd-4567-89ef-0123-456789abcdef';

test('checkPurgePrefix: the daemon rules, plus prefixes other software names its objects with', () => {
  assert.equal(checkPurgePrefix('nimbo'), 'nimbo');
  assert.equal(checkPurgePrefix('t1a2b'), 't1a2b');
  for (const bad of ['br', 'veth', 'docker', 'virbr', 'eth', 'lo', 'cni', '', 'Nimbo', 'a-b', 'toolong7', '1abc']) assert.throws(() => checkPurgePrefix(bad), /prefix/, bad);
});

test('linksToPurge: exact shapes and kinds only, taps and veths before ifbs, VXLAN ports and bridges', () => {
  const tap = tapName('t1', UUID, 'eth0');
  const tap2 = tapName('t1', UUID, 'eth1');
  const links = [
    { ifname: 'lo' },
    { ifname: 't1br1', linkinfo: { info_kind: 'bridge' } },
    { ifname: tap, linkinfo: { info_kind: 'tun' } },
    { ifname: tap2, linkinfo: { info_kind: 'veth' } },
    { ifname: 't1vx1', linkinfo: { info_kind: 'vxlan' } },
    { ifname: ifbNameFor(tap), ifalias: `nimbo-qos:${tap}`, linkinfo: { info_kind: 'ifb' } },
    // Not ours: another prefix's shaper, a dummy named like a bridge, a bridge of another shape, a near miss.
    { ifname: ifbNameFor('t2-abc'), ifalias: 'nimbo-qos:t2-abc', linkinfo: { info_kind: 'ifb' } },
    { ifname: 't1br2', linkinfo: { info_kind: 'dummy' } },
    { ifname: 't1br-x', linkinfo: { info_kind: 'bridge' } },
    { ifname: 't1brx', linkinfo: { info_kind: 'bridge' } },
    { ifname: 't10-abc', linkinfo: { info_kind: 'tun' } },
    { ifname: 't1-xyz', linkinfo: { info_kind: 'tun' } },
    { ifname: 't1-abc', linkinfo: { info_kind: 'macvlan' } },
  ];
  assert.deepEqual(linksToPurge('t1', links), [
    { kind: 'tap', name: tap },
    { kind: 'veth', name: tap2 },
    { kind: 'ifb', name: ifbNameFor(tap) },
    { kind: 'vxlan', name: 't1vx1' },
    { kind: 'bridge', name: 't1br1' },
  ]);
});

test('a prefix that is a substring of another never reaches it', () => {
  const links = [{ ifname: 'nimbobr1', linkinfo: { info_kind: 'bridge' } }, { ifname: 'nimbo-0123abcd4', linkinfo: { info_kind: 'tun' } }];
  assert.deepEqual(linksToPurge('nim', links), []);
  assert.deepEqual(linksToPurge('nimbo', links).map((l) => l.name), ['nimbo-0123abcd4', 'nimbobr1']);
  // Docker's user bridges are br-<12 hex>; a prefix "br" is refused outright.
  assert.throws(() => linksToPurge('br', [{ ifname: 'br-0123456789ab', linkinfo: { info_kind: 'bridge' } }]), /prefix/);
});

test('netns: PREFIX-8HEX only', () => {
  const names = parseNetnsList('t1-0123abcd (id: 3)\nt1-0123abc\nt12-0123abcd\nother\nt1-0123abcd9\n');
  assert.deepEqual(names, ['t1-0123abcd', 't1-0123abc', 't12-0123abcd', 'other', 't1-0123abcd9']);
  assert.deepEqual(netnsToPurge('t1', names), ['t1-0123abcd']);
});

test('isNimboTable: only tables whose every chain, set and map is net_*, sg_*, fwd_* or md_*', () => {
  const t = (...objs: object[]) => JSON.stringify({ nftables: [{ metainfo: {} }, { table: { family: 'inet', name: 'x' } }, ...objs] });
  assert.equal(isNimboTable(t()), true);
  assert.equal(isNimboTable(t({ chain: { name: 'net_forward' } }, { set: { name: 'sg_addr_1' } }, { map: { name: 'fwd_tcp' } }, { chain: { name: 'md_prerouting' } }, { rule: { chain: 'net_forward' } })), true);
  assert.equal(isNimboTable(t({ chain: { name: 'net_forward' } }, { chain: { name: 'input' } })), false);
  assert.equal(isNimboTable(t({ set: { name: 'blocklist' } })), false);
  assert.equal(isNimboTable('not json'), false);
  assert.equal(isNimboTable(JSON.stringify({ nftables: [] })), false);
});

test('processesToPurge: helper programs with an argument inside the state dir', () => {
  const S = '/var/lib/nimbo';
  const procs = [
    { pid: 10, argv: ['/usr/bin/qemu-system-x86_64', '-name', 'vm1', '-pidfile', `${S}/run/vm1/qemu.pid`] },
    { pid: 11, argv: ['dnsmasq', `--conf-file=${S}/networks/default/dnsmasq.conf`] },
    { pid: 12, argv: ['python3', '-I', '-c', 'import os', `${S}/run/c1/exit.json`] },
    { pid: 13, argv: ['qemu-system-aarch64', '-qmp', `unix:${S}/run/a/qmp.sock,server=on`] },
    // Not ours: another state dir with the same start, a user's shell, our own process, another dnsmasq.
    { pid: 20, argv: ['qemu-system-x86_64', '-pidfile', `${S}2/run/vm1/qemu.pid`] },
    { pid: 21, argv: ['bash', '-c', `ls ${S}/run`] },
    { pid: 22, argv: ['dnsmasq', `--conf-file=${S}/networks/x/dnsmasq.conf`] },
    { pid: 23, argv: ['dnsmasq', '--conf-file=/etc/dnsmasq.conf'] },
  ];
  assert.deepEqual(processesToPurge(`${S}/`, procs, 22).map((p) => p.pid), [10, 11, 12, 13]);
});

test('isNimbodArgv', () => {
  assert.equal(isNimbodArgv(['/usr/bin/node', '/opt/nimbo/dist/src/cli/main.js', 'daemon', '--state-dir', '/x']), true);
  assert.equal(isNimbodArgv(['node', '/usr/local/bin/nimbo', 'daemon']), true);
  assert.equal(isNimbodArgv(['node', 'main.js', 'list']), false);
  assert.equal(isNimbodArgv(['sleep', 'main.js', 'daemon']), false);
});

test('mountsToPurge: container roots and extraction mounts under the roots, deepest first', () => {
  const m = (mountPoint: string) => ({ mountPoint, fsType: 'overlay', source: 'x', superOptions: '' });
  const roots = new Set(['/s/pools/default/volumes/c1', '/pool2/vol/c2']);
  const mounts = [
    m('/s/pools/default/volumes/c1/lower'),
    m('/s/pools/default/volumes/c1/rootfs'),
    m('/pool2/vol/c2/rootfs'),
    m('/s/images/tiny/tree.extract-Ab12/mnt'),
    m('/s'), // the state dir's own filesystem: the user's
    m('/s/pools/big'), // a disk the user mounted there
    m('/s/pools/default/volumes/c3/rootfs'), // no nimbo-root.json beside it
    m('/elsewhere/c1/rootfs'),
  ];
  assert.deepEqual(mountsToPurge(['/s', '/pool2'], mounts, (d) => roots.has(d)), [
    '/s/pools/default/volumes/c1/rootfs',
    '/s/pools/default/volumes/c1/lower',
    '/s/images/tiny/tree.extract-Ab12/mnt',
    '/pool2/vol/c2/rootfs',
  ]);
});

test('loopsToPurge: backing file inside the state dir', () => {
  const json = JSON.stringify({ loopdevices: [{ name: '/dev/loop0', 'back-file': '/s/images/x.extract-1/disk.raw' }, { name: '/dev/loop1', 'back-file': '/s2/disk.raw' }, { name: '/dev/loop2' }] });
  assert.deepEqual(loopsToPurge('/s', json), ['/dev/loop0']);
  assert.deepEqual(loopsToPurge('/s', ''), []);
});

test('checkStateDirForRemoval: never /, system dirs or a home; only a dir with state.db or daemon.json', () => {
  const yes = () => true;
  for (const d of ['/', '//', '/var', '/var/lib', '/root', '/home', '/home/ann', '/home/ann/', '/x', 'relative/dir', '/a/../b']) {
    assert.throws(() => checkStateDirForRemoval(d, '/home/ann', yes), /refusing|absolute/, d);
  }
  assert.throws(() => checkStateDirForRemoval('/home', '/home/ann', yes), /refusing/);
  assert.throws(() => checkStateDirForRemoval('/srv/data', undefined, () => false), /does not look like a nimbo state dir/);
  assert.doesNotThrow(() => checkStateDirForRemoval('/var/lib/nimbo', '/root', (f) => f === 'state.db'));
  assert.doesNotThrow(() => checkStateDirForRemoval('/tmp/nimbo-t1-x/', '/root', (f) => f === 'daemon.json'));
});
