import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNetCounters } from './net-counters.js';

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
