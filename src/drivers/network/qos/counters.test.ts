import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NimboError } from '../../../lib/errors.js';
import { parseTapCounters, readCounters, tapCountersArgv } from './counters.js';

// Captured from iproute2 6.1 (`ip -s -j link show dev qfwa`), numbers changed so rx and tx differ.
const IP6 = `[{"ifindex":3,"link":"qfwb","ifname":"qfwa","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"tbf","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"c6:c5:16:d6:0e:0e","broadcast":"ff:ff:ff:ff:ff:ff","stats64":{"rx":{"bytes":9000,"packets":10,"errors":0,"dropped":0,"over_errors":0,"multicast":0},"tx":{"bytes":123456789012,"packets":98765,"errors":0,"dropped":0,"carrier_errors":0,"collisions":0}}}]`;
// Older iproute2 names the object "stats".
const OLD = `[{"ifindex":7,"ifname":"tap1","stats":{"rx":{"bytes":1,"packets":2},"tx":{"bytes":3,"packets":4}}}]`;
const bad = (re: RegExp) => (e: unknown) => e instanceof NimboError && e.code === 'InvalidArgument' && re.test(e.message);

test('tap counters: guest rx is the tap tx', () => {
  assert.deepEqual(parseTapCounters(IP6), { rxBytes: 123456789012, rxPackets: 98765, txBytes: 9000, txPackets: 10 });
  assert.deepEqual(parseTapCounters(OLD), { rxBytes: 3, rxPackets: 4, txBytes: 1, txPackets: 2 });
  assert.deepEqual(tapCountersArgv('tap1'), ['ip', '-s', '-j', 'link', 'show', 'dev', 'tap1']);
});

test('tap counters: bad output is refused', () => {
  assert.throws(() => parseTapCounters('not json'), bad(/not JSON/));
  assert.throws(() => parseTapCounters('[]'), bad(/no link/));
  assert.throws(() => parseTapCounters('[{"ifname":"tap1"}]'), bad(/no statistics/));
  assert.throws(() => parseTapCounters('[{"stats64":{"rx":{"bytes":-1,"packets":0},"tx":{"bytes":0,"packets":0}}}]'), bad(/rx.bytes/));
});

test('readCounters: sysfs statistics from the guest\'s side, null when the tap is gone', async () => {
  const root = await mkdtemp(join(tmpdir(), 'nimbo-qos-'));
  try {
    const dir = join(root, 'tap1', 'statistics');
    await mkdir(dir, { recursive: true });
    const files = { rx_bytes: '9000\n', rx_packets: '10\n', tx_bytes: '123456789012\n', tx_packets: '98765\n' };
    for (const [f, v] of Object.entries(files)) await writeFile(join(dir, f), v);
    assert.deepEqual(await readCounters('tap1', root), { rxBytes: 123456789012, rxPackets: 98765, txBytes: 9000, txPackets: 10 });
    assert.equal(await readCounters('tap2', root), null);
    await writeFile(join(dir, 'rx_bytes'), 'garbage\n');
    await assert.rejects(readCounters('tap1', root), bad(/does not hold a counter/));
    await assert.rejects(readCounters('../etc', root), bad(/tap name/));
    await assert.rejects(readCounters('a/b', root), bad(/tap name/));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('readCounters: the real loopback of this host', async () => {
  const c = await readCounters('lo');
  assert.ok(c, '/sys/class/net/lo exists');
  for (const v of Object.values(c)) assert.ok(Number.isInteger(v) && v >= 0);
  assert.equal(await readCounters('nimbo-no-such'), null);
});
