import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { EventBus } from './events.js';
import { silentLogger } from '../lib/log.js';
import { OperationManager } from './operations.js';
import { NetworkService, excludedFor } from './network-service.js';
import { statePaths } from './config.js';
import { FakeExec } from '../host/fake-exec.js';
import type { NetworkDriver, Reservation } from '../drivers/network/types.js';

/** A driver fake that records the reservations it was asked to serve. */
function fakeDriver(): NetworkDriver & { served: Reservation[][] } {
  const served: Reservation[][] = [];
  return {
    served,
    ensure: async (_s, r) => void served.push(r),
    setReservations: async (_s, r) => void served.push(r),
    remove: async () => {},
    applyFirewall: async () => {},
    setPolicy: async () => {},
    removeFirewall: async () => {},
    createTap: async () => {},
    deleteTap: async () => {},
    plugNetns: async () => {},
    tapExists: async () => true,
  };
}

async function setup(subnet = '10.50.0.0/29') {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-ipam-'));
  const store = new SqliteStore(join(dir, 'db'));
  const events = new EventBus();
  const log = silentLogger();
  const config = { stateDir: dir, host: '127.0.0.1', port: 0, prefix: 'tst', subnet, qemuUser: 'nobody' };
  const driver = fakeDriver();
  const base = { config, paths: statePaths(dir), store, ops: new OperationManager(store, events, log), events, log, exec: new FakeExec().on(['ip', '-j', '-d', 'link', 'show'], { stdout: '[]' }) };
  const net = new NetworkService(base, driver);
  return { net, driver, store, ops: base.ops, done: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
}

test('the default network derives bridge, gateway and table from the config', async () => {
  const t = await setup('10.60.1.0/24');
  await t.net.init();
  const spec = await t.net.spec('default', 'default');
  assert.equal(spec.bridge, 'tstbr0');
  assert.equal(spec.gateway, '10.60.1.1');
  assert.equal(spec.nftTable, 'tst');
  assert.equal(spec.mode, 'nat');
  assert.match(spec.ipv6!.subnet, /^fd[0-9a-f:]+::\/64$/);
  await t.done();
});

test('network create: bad input is refused before anything is made', async () => {
  const t = await setup('10.60.1.0/24');
  await t.net.init();
  await assert.rejects(t.net.create('default', { name: 'tiny', subnet: '10.61.0.0/30' }), /too small/);
  await assert.rejects(t.net.create('default', { name: 'clash', subnet: '10.60.0.0/16' }), /overlaps 10.60.1.0\/24 of network default/);
  await assert.rejects(t.net.create('default', { name: 'v6', ipv6: 'fd00:1::/48' }), /64/);
  await assert.rejects(t.net.create('default', { name: 'Bad_Name' }), /network name/);
  await assert.rejects(t.net.create('default', { name: 'default' }), /overlaps|already exists/);
  const op = await t.net.create('default', { name: 'blue', mode: 'isolated', ipv6: 'none' });
  assert.ok(op.id);
  await t.ops.wait(op.id, 10_000);
  const blue = await t.net.record('default', 'blue');
  assert.equal(blue.bridge, 'tstbr1');
  assert.equal(blue.ipv6, null);
  assert.match(blue.subnet, /^10\.\d+\.\d+\.0\/24$/);
  await t.done();
});

test('concurrent allocations never hand out an address twice, and the pool runs out cleanly', async () => {
  const t = await setup('10.50.0.0/29'); // 6 hosts: gateway + 5 for instances
  await t.net.init();
  const results = await Promise.allSettled([1, 2, 3, 4, 5, 6, 7].map((i) => t.net.allocate('default', 'default', `vm${i}`, 'eth0', `vm${i}`)));
  const ok = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<{ ip: string; mac: string }>).value);
  assert.equal(ok.length, 5);
  assert.equal(new Set(ok.map((a) => a.ip)).size, 5, 'distinct addresses');
  assert.equal(new Set(ok.map((a) => a.mac)).size, 5, 'distinct MACs');
  assert.ok(ok.every((a) => a.ip.endsWith('/29') && a.ip !== '10.50.0.1/29'));
  const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
  assert.equal(failed.length, 2);
  assert.match(String(failed[0]!.reason.message), /no free address|full/i);
  assert.equal(t.driver.served.at(-1)!.length, 5, 'dnsmasq serves every reservation');
  await t.done();
});

test('release returns an instance\'s addresses to the pool', async () => {
  const t = await setup('10.50.0.0/29');
  await t.net.init();
  const a = await t.net.allocate('default', 'default', 'a', 'eth0', 'a');
  await t.net.allocate('default', 'default', 'b', 'eth0', 'b');
  await t.net.release('default', 'a');
  assert.deepEqual((await t.net.leases('default', 'default')).map((l) => l.instance), ['b']);
  await assert.rejects(t.net.allocate('default', 'default', 'd', 'eth0', 'd', '10.50.0.3'), /already in use|not in/);
  await assert.rejects(t.net.allocate('default', 'default', 'd', 'eth0', 'd', '10.50.0.1'), /gateway/);
  await assert.rejects(t.net.allocate('default', 'default', 'd', 'eth0', 'd', '10.9.0.1'), /not in 10.50.0.0\/29/);
  const c = await t.net.allocate('default', 'default', 'c', 'eth0', 'c');
  assert.equal(c.ip, a.ip, 'the freed address is reused');
  await t.done();
});

test('vxlan networks: each host allocates from its own share, never a gateway slot', () => {
  const ex = (gw: string) => new Set(excludedFor({ type: 'vxlan', subnet: '10.90.0.0/24', gateway: gw }));
  const h1 = ex('10.90.0.1');
  const h2 = ex('10.90.0.2');
  for (let i = 1; i <= 8; i++) assert.ok(h1.has(`10.90.0.${i}`) && h2.has(`10.90.0.${i}`));
  assert.ok(!h1.has('10.90.0.9') && h2.has('10.90.0.9'));
  assert.ok(!h2.has('10.90.0.10') && h1.has('10.90.0.10'));
  for (let i = 9; i < 255; i++) assert.ok(h1.has(`10.90.0.${i}`) || h2.has(`10.90.0.${i}`), 'no address is free on both hosts');
  assert.deepEqual(excludedFor({ type: 'bridge', subnet: '10.1.0.0/24', gateway: '10.1.0.1' }), ['10.1.0.1']);
});
