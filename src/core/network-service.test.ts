import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { EventBus } from './events.js';
import { silentLogger } from './log.js';
import { OperationManager } from './operations.js';
import { NetworkService } from './network-service.js';
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
    removeFirewall: async () => {},
    createTap: async () => {},
    deleteTap: async () => {},
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
  const base = { config, paths: statePaths(dir), store, ops: new OperationManager(store, events, log), events, log, exec: new FakeExec() };
  const net = new NetworkService(base, driver);
  return { net, driver, store, done: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
}

test('the default network derives bridge, gateway and table from the config', async () => {
  const t = await setup('10.60.1.0/24');
  assert.equal(t.net.spec.bridge, 'tstbr0');
  assert.equal(t.net.spec.gateway, '10.60.1.1');
  assert.equal(t.net.spec.nftTable, 'tst');
  await t.done();
});

test('concurrent allocations never hand out an address twice, and the pool runs out cleanly', async () => {
  const t = await setup('10.50.0.0/29'); // 6 hosts: gateway + 5 for instances
  const results = await Promise.allSettled([1, 2, 3, 4, 5, 6, 7].map((i) => t.net.allocate(`vm${i}`, 'eth0', `vm${i}`)));
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
  const a = await t.net.allocate('a', 'eth0', 'a');
  await t.net.allocate('b', 'eth0', 'b');
  await t.net.release('a');
  assert.deepEqual((await t.net.leases()).map((l) => l.owner), ['b']);
  const c = await t.net.allocate('c', 'eth0', 'c');
  assert.equal(c.ip, a.ip, 'the freed address is reused');
  await t.done();
});
