import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { silentLogger } from '../lib/log.js';
import { NimboError } from '../lib/errors.js';
import { keys, lockTarget } from '../store/keys.js';
import { StoreLocks } from './locks.js';
import { statePaths } from './config.js';
import { legacyHostIds } from './host-ids.js';
import { InstanceUpdate } from './instance-update.js';
import type { InstanceRecord } from './instance-record.js';

const paths = statePaths('/var/lib/nimbo-u');
const UUID = '0d4b7c1e-0000-4000-8000-000000000001';
const HOST_IDS = { runDir: '/var/lib/nimbo-u/run/' + UUID, instanceDir: '/var/lib/nimbo-u/instances/' + UUID, runtimeId: 'nu-' + UUID, cgroup: '/nimbo-nu/' + UUID };

const rec = (name: string, over: Partial<InstanceRecord> = {}): InstanceRecord => ({
  v: 2, name, uuid: UUID, type: 'container', driver: 'runc', hostIds: HOST_IDS, desired: { power: 'running', autostart: 'last-state' }, description: '',
  image: 'tiny', cpus: 1, memory: 64 * 2 ** 20, disk: 0, sshKeys: [], state: 'running', accelerator: 'none',
  nics: [{ name: 'eth0', network: 'default', mac: '52:54:00:00:00:01', address: '10.1.0.5/24', tap: 'nu-0d4b7c1e-0' }],
  root: { pool: 'default', volume: 'web-root' }, volumes: [{ pool: 'default', volume: 'data', path: '/data' }], createdAt: '2026-12-01T00:00:00.000Z',
  ...over,
});

/** An in-memory store with instance web (and its snapshot, address, volume claims, forward, id slot) and instance db. */
async function fixture(o: { busyWaitMs?: number } = {}) {
  const store = new SqliteStore(':memory:');
  await store.put(keys.instance('default', 'web'), rec('web'));
  await store.put(keys.instance('default', 'db'), rec('db', { uuid: '0d4b7c1e-0000-4000-8000-000000000002' }));
  await store.put(keys.snapshot('default', 'web', 's1'), { name: 's1', instance: 'web', createdAt: 'x' });
  await store.put(keys.snapshot('default', 'webx', 's9'), { name: 's9', instance: 'webx', createdAt: 'x' }); // a prefix look-alike: untouched
  await store.put(keys.ipamEntry('default', 'default', '10.1.0.5'), { network: 'default', ip: '10.1.0.5', mac: 'm', owner: 'web', nic: 'eth0', hostname: 'web' });
  await store.put(keys.ipamEntry('default', 'default', '10.1.0.6'), { network: 'default', ip: '10.1.0.6', mac: 'm2', owner: 'db', nic: 'eth0', hostname: 'db' });
  await store.put(keys.volumeMeta('default', 'default', 'web-root'), { pool: 'default', name: 'web-root', attachedTo: 'web', limits: {} });
  await store.put(keys.volumeMeta('default', 'default', 'data'), { pool: 'default', name: 'data', attachedTo: 'web', limits: {} });
  await store.put(keys.volumeMeta('default', 'default', 'other'), { pool: 'default', name: 'other', attachedTo: 'db', limits: {} });
  await store.put(keys.forward('default', 'default', 'tcp-1'), { id: 'tcp-1', network: 'default', instance: 'web', nic: 'eth0' });
  await store.put(keys.idmap(3), { owner: 'web' });
  await store.put(keys.vmid(4), { owner: 'db' });
  const calls: string[] = [];
  const events: { target: string; data: unknown }[] = [];
  const locks = new StoreLocks(store);
  const update = new InstanceUpdate({
    store,
    locks,
    refreshNetwork: async (project, net) => void calls.push(`dhcp ${project}/${net}`),
    applyFirewall: async () => void calls.push('firewall'),
    publish: (_type, target, data) => void events.push({ target, data }),
    legacyHostIds: (name) => legacyHostIds(paths, 'nu', name),
    log: silentLogger(),
    daemonId: 'd1',
    ...(o.busyWaitMs !== undefined ? { busyWaitMs: o.busyWaitMs } : {}),
  });
  return { store, update, calls, events, locks, done: () => store.close() };
}

test('rename moves the record and every reference by name in one transaction; host ids stay', async () => {
  const t = await fixture();
  try {
    const revs = new Set<number>();
    t.store.watch('/', (ev) => void (ev.key.startsWith(keys.locks) || revs.add(ev.revision)));
    const out = await t.update.rename('default', 'web', 'www');
    assert.equal(revs.size, 1, 'every record changed in one transaction (one revision)');
    assert.equal(out.name, 'www');
    assert.equal(await t.store.get(keys.instance('default', 'web')), undefined);
    const moved = (await t.store.get<InstanceRecord>(keys.instance('default', 'www')))!.value;
    assert.deepEqual(moved, { ...rec('web'), name: 'www' }, 'only the name changed: uuid, host ids, root volume, NICs stay');
    assert.equal(await t.store.get(keys.snapshot('default', 'web', 's1')), undefined);
    assert.deepEqual((await t.store.get(keys.snapshot('default', 'www', 's1')))!.value, { name: 's1', instance: 'www', createdAt: 'x' });
    assert.deepEqual((await t.store.get(keys.snapshot('default', 'webx', 's9')))!.value, { name: 's9', instance: 'webx', createdAt: 'x' });
    assert.deepEqual((await t.store.get(keys.ipamEntry('default', 'default', '10.1.0.5')))!.value, { network: 'default', ip: '10.1.0.5', mac: 'm', owner: 'www', nic: 'eth0', hostname: 'www' });
    assert.equal((await t.store.get<{ owner: string }>(keys.ipamEntry('default', 'default', '10.1.0.6')))!.value.owner, 'db');
    assert.equal((await t.store.get<{ attachedTo: string }>(keys.volumeMeta('default', 'default', 'web-root')))!.value.attachedTo, 'www');
    assert.equal((await t.store.get<{ attachedTo: string }>(keys.volumeMeta('default', 'default', 'data')))!.value.attachedTo, 'www');
    assert.equal((await t.store.get<{ attachedTo: string }>(keys.volumeMeta('default', 'default', 'other')))!.value.attachedTo, 'db');
    assert.equal((await t.store.get<{ instance: string }>(keys.forward('default', 'default', 'tcp-1')))!.value.instance, 'www');
    assert.deepEqual((await t.store.get(keys.idmap(3)))!.value, { owner: 'www' });
    assert.deepEqual((await t.store.get(keys.vmid(4)))!.value, { owner: 'db' });
    assert.deepEqual(t.calls, ['dhcp default/default', 'firewall'], 'DHCP/DNS learn the new hostname, the firewall is applied again');
    assert.deepEqual(t.events.map((e) => e.target), ['web', 'www']);
    assert.deepEqual(await t.locks.list(), [], 'the instance lock was given back');
  } finally {
    await t.done();
  }
});

test('rename to a taken name: 409 "instance db already exists", and nothing changed', async () => {
  const t = await fixture();
  try {
    const snapshot = JSON.stringify(await t.store.list('/'));
    await assert.rejects(t.update.rename('default', 'web', 'db'), (e: NimboError) => e.code === 'Conflict' && e.message === 'instance db already exists');
    // Also when it is combined with other changes: the whole PATCH is refused.
    await assert.rejects(t.update.patch('default', 'web', { name: 'db', description: 'x' }), /instance db already exists/);
    assert.equal(JSON.stringify(await t.store.list('/')), snapshot, 'every key as it was, at the same revision');
    assert.deepEqual(t.calls, []);
  } finally {
    await t.done();
  }
});

test('a bad new name is 400, an unknown instance 404; neither writes', async () => {
  const t = await fixture();
  try {
    const rev = await t.store.revision();
    await assert.rejects(t.update.rename('default', 'web', 'Bad_Name'), (e: NimboError) => e.code === 'InvalidArgument');
    await assert.rejects(t.update.rename('default', 'nope', 'x'), (e: NimboError) => e.code === 'NotFound' && e.message === 'instance nope not found');
    assert.equal(await t.store.revision(), rev);
  } finally {
    await t.done();
  }
});

test('a rename waits for the operation holding the instance lock, and is 409 naming it when it lasts too long', async () => {
  const t = await fixture({ busyWaitMs: 300 });
  try {
    const held = await t.locks.acquire(keys.lock(lockTarget.instance(UUID)), { op: 'op-123', daemon: 'd0', since: 'x' });
    await assert.rejects(t.update.rename('default', 'web', 'www'), (e: NimboError) => e.code === 'Conflict' && e.message === 'instance web is busy with operation op-123');
    assert.ok(await t.store.get(keys.instance('default', 'web')), 'not renamed');
    // Released within the wait: the rename goes through after it.
    const renamed = t.update.rename('default', 'web', 'www');
    setTimeout(() => void t.locks.release(held), 50);
    assert.equal((await renamed).name, 'www');
  } finally {
    await t.done();
  }
});

test('references written between the read and the commit are not lost: a changed one fails the txn, a new one is swept', async () => {
  const t = await fixture();
  try {
    const realTxn = t.store.txn.bind(t.store);
    const results: boolean[] = [];
    t.store.txn = async (c, o) => {
      if (results.length === 0) await t.store.put(keys.snapshot('default', 'web', 's1'), { name: 's1', instance: 'web', createdAt: 'changed' });
      if (results.length === 1) await t.store.put(keys.snapshot('default', 'web', 's2'), { name: 's2', instance: 'web', createdAt: 'y' });
      const ok = await realTxn(c, o);
      results.push(ok);
      return ok;
    };
    await t.update.rename('default', 'web', 'www');
    assert.deepEqual(results, [false, true, true], 'stale plan refused, re-planned txn, then the sweep of the new key');
    assert.equal((await t.store.get<{ createdAt: string }>(keys.snapshot('default', 'www', 's1')))!.value.createdAt, 'changed');
    assert.deepEqual((await t.store.list(keys.snapshots('default', 'www'))).map((k) => k.key), [keys.snapshot('default', 'www', 's1'), keys.snapshot('default', 'www', 's2')]);
    assert.deepEqual(await t.store.list(keys.snapshots('default', 'web')), []);
  } finally {
    await t.done();
  }
});

test('PATCH fields: description, labels, autostart any time; cpus and memory only while stopped (409 otherwise)', async () => {
  const t = await fixture();
  try {
    const out = await t.update.patch('default', 'web', { description: 'front end', labels: { tier: 'web' }, autostart: 'always' });
    assert.equal(out.description, 'front end');
    assert.deepEqual(out.labels, { tier: 'web' });
    assert.deepEqual(out.desired, { power: 'running', autostart: 'always' });
    const rev = JSON.stringify(await t.store.list(keys.instances('default', )));
    await assert.rejects(t.update.patch('default', 'web', { cpus: 2 }), (e: NimboError) => e.code === 'Conflict' && e.message === 'instance web is running: cpus and memory can be changed only while it is stopped');
    await assert.rejects(t.update.patch('default', 'web', { memory: '1GiB', description: 'y' }), /only while it is stopped/);
    assert.equal(JSON.stringify(await t.store.list(keys.instances('default', ))), rev, 'a refused PATCH writes nothing, not even its other fields');
    await t.store.put(keys.instance('default', 'db'), { ...rec('db'), uuid: '0d4b7c1e-0000-4000-8000-000000000002', state: 'stopped' });
    const db = await t.update.patch('default', 'db', { cpus: 4, memory: '1GiB' });
    assert.equal(db.cpus, 4);
    assert.equal(db.memory, 2 ** 30);
    await assert.rejects(t.update.patch('default', 'db', { memory: '1MiB' }), (e: NimboError) => e.code === 'InvalidArgument' && /memory 1MiB is out of range/.test(e.message));
    await assert.rejects(t.update.patch('default', 'db', { cpus: 65 }), (e: NimboError) => e.code === 'InvalidArgument');
    await assert.rejects(t.update.patch('default', 'db', { labels: { 'Bad Key': 'x' } }), (e: NimboError) => e.code === 'InvalidArgument');
    await assert.rejects(t.update.patch('default', 'db', { autostart: 'sometimes' as never }), (e: NimboError) => e.code === 'InvalidArgument');
  } finally {
    await t.done();
  }
});

test('a record without pinned host ids gets the name-derived ones it was made with before its name changes', async () => {
  const t = await fixture();
  try {
    const { hostIds: _h, v: _v, ...old } = rec('web');
    await t.store.put(keys.instance('default', 'web'), old);
    const out = await t.update.rename('default', 'web', 'www');
    assert.deepEqual(out.hostIds, legacyHostIds(paths, 'nu', 'web'));
  } finally {
    await t.done();
  }
});

test('an empty PATCH (or the same name) writes nothing and answers the record', async () => {
  const t = await fixture();
  try {
    const rev = await t.store.revision();
    assert.equal((await t.update.patch('default', 'web', {})).name, 'web');
    assert.equal((await t.update.patch('default', 'web', { name: 'web' })).name, 'web');
    assert.equal(await t.store.revision(), rev);
    await assert.rejects(t.update.patch('default', 'nope', {}), /instance nope not found/);
  } finally {
    await t.done();
  }
});
