import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNetCounters, readNicStats } from './net-counters.js';

test('counters are read from the sysfs layout; absent devices and hostile names give undefined', async () => {
  const root = mkdtempSync(join(tmpdir(), 'nimbo-sysnet-'));
  try {
    mkdirSync(join(root, 'tap1', 'statistics'), { recursive: true });
    writeFileSync(join(root, 'tap1', 'ifindex'), '42\n');
    writeFileSync(join(root, 'tap1', 'statistics', 'rx_bytes'), '1234\n');
    writeFileSync(join(root, 'tap1', 'statistics', 'tx_bytes'), '99\n');
    assert.deepEqual(await readNetCounters('tap1', root), { ifindex: 42, rx: 1234, tx: 99 });
    assert.equal(await readNetCounters('tap2', root), undefined);
    for (const bad of ['../tap1', '..', 'a/b', '', 'x'.repeat(16)]) assert.equal(await readNetCounters(bad, root), undefined, bad);
    writeFileSync(join(root, 'tap1', 'statistics', 'tx_bytes'), 'garbage\n');
    assert.equal(await readNetCounters('tap1', root), undefined);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the real loopback device has counters', async () => {
  const lo = await readNetCounters('lo');
  assert.ok(lo && lo.ifindex >= 1 && lo.rx >= 0 && lo.tx >= 0);
});

test('NIC stats add packets; a missing packet file gives undefined', async () => {
  const root = mkdtempSync(join(tmpdir(), 'nimbo-sysnet-'));
  try {
    mkdirSync(join(root, 'tap1', 'statistics'), { recursive: true });
    const put = (f: string, v: string) => writeFileSync(join(root, 'tap1', f), v);
    put('ifindex', '7\n');
    put('statistics/rx_bytes', '1000\n');
    put('statistics/tx_bytes', '2000\n');
    put('statistics/rx_packets', '10\n');
    assert.equal(await readNicStats('tap1', root), undefined);
    put('statistics/tx_packets', '20\n');
    assert.deepEqual(await readNicStats('tap1', root), { ifindex: 7, rx: 1000, tx: 2000, rxPackets: 10, txPackets: 20 });
    const lo = await readNicStats('lo');
    assert.ok(lo && lo.rxPackets >= 0 && lo.txPackets >= 0);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
