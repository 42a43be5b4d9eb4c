import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { silentLogger } from '../../lib/log.js';
import { statePaths } from '../config.js';
import { keys } from '../../store/keys.js';
import { instanceV1toV2, migrateRecords, RECORDS_VERSION, recordsVersion, type InstanceRecordV1 } from './migrate.js';
import { checkInstanceRecord } from './instance-schema.js';
import type { InstanceRecord } from '../instance-record.js';

const paths = statePaths('/var/lib/nimbo-t');
const opts = { paths, prefix: 'nt', log: silentLogger() };

/** A VM record as nimbo stored it before record versions (fixture of the v1 shape). */
const VM_V1: InstanceRecordV1 = {
  name: 'vm1', uuid: '6c1f2a3b-0000-4000-8000-000000000001', type: 'vm', image: 'tiny', cpus: 1, memory: 268435456, disk: 2147483648,
  sshKeys: ['ssh-ed25519 AAAA test'], state: 'running', accelerator: 'tcg', qemuId: 2000000003,
  nics: [{ name: 'eth0', network: 'default', mac: '52:54:00:12:34:56', address: '10.123.0.5/24', ipv6: 'fd00::5054:ff:fe12:3456', tap: 'nt-6c1f2a3b-0', securityGroups: ['default'] }],
  root: { pool: 'default', volume: 'vm1-root' }, volumes: [{ pool: 'default', volume: 'data1' }],
  snapshotSchedule: { cron: '@daily', lastRun: '2026-12-01T00:00:00.000Z' }, createdAt: '2026-12-01T00:00:00.000Z',
};
/** A system container record of the v1 shape, stopped, with labels and an OOM count. */
const CT_V1: InstanceRecordV1 = {
  name: 'ct1', uuid: '6c1f2a3b-0000-4000-8000-000000000002', type: 'container', image: 'tiny', cpus: 1, memory: 67108864, disk: 0,
  sshKeys: [], state: 'stopped', accelerator: 'none',
  nics: [{ name: 'eth0', network: 'default', mac: '52:54:00:12:34:57', address: '10.123.0.6/24', tap: 'nt-6c1f2a3b-1', securityGroups: ['default'] }],
  root: { pool: 'default', volume: 'ct1-root' }, volumes: [{ pool: 'default', volume: 'fs1', path: '/data' }],
  container: { kind: 'system', hostId: 1065536, netns: 'nt-6c1f2a3b', stopSignal: 'SIGUSR2', pids: 2048, oomKills: 1 },
  labels: { env: 'prod' }, createdAt: '2026-12-01T00:00:00.000Z',
};

async function withV1Store(fn: (s: SqliteStore) => Promise<void>) {
  const store = new SqliteStore(':memory:');
  try {
    await store.put('/instances/vm1', VM_V1);
    await store.put('/instances/ct1', CT_V1);
    await store.put('/instances/p1', { ...CT_V1, name: 'p1', uuid: '6c1f2a3b-0000-4000-8000-000000000003', state: 'paused' });
    await store.put('/snapshots/vm1/s1', { name: 's1', instance: 'vm1' }); // not an instance: only moved
    await fn(store);
  } finally {
    await store.close();
  }
}

test('v1 -> v2: driver from type, name-derived host ids pinned, desired power from the last state, the rest kept', () =>
  withV1Store(async (store) => {
    assert.equal(await recordsVersion(store), 1, 'no marker: a store from before versioning');
    const res = await migrateRecords(store, opts);
    assert.deepEqual(res, { from: 1, to: 3, changed: 3 + 4 }, 'v2: 3 instances; v3: 3 instances and 1 snapshot moved');
    assert.equal(RECORDS_VERSION, 3);
    assert.equal((await store.get<{ version: number }>(keys.recordsVersion))!.value.version, 3);

    const vm = checkInstanceRecord(keys.instance('default', 'vm1'), (await store.get(keys.instance('default', 'vm1')))!.value);
    assert.equal(vm.driver, 'qemu');
    assert.deepEqual(vm.hostIds, { runDir: '/var/lib/nimbo-t/run/vm1', instanceDir: '/var/lib/nimbo-t/instances/vm1', runtimeId: 'nt-vm1', cgroup: '/nimbo-nt/vm1' });
    assert.deepEqual(vm.desired, { power: 'running', autostart: 'last-state' });
    assert.equal(vm.description, '');
    const { v: _v, driver: _d, hostIds: _h, desired: _s, description: _x, project: _p, ...rest } = vm;
    assert.deepEqual(rest, VM_V1, 'every v1 field is kept as it was');

    const ct = checkInstanceRecord(keys.instance('default', 'ct1'), (await store.get(keys.instance('default', 'ct1')))!.value);
    assert.equal(ct.driver, 'runc');
    assert.equal(ct.hostIds.runtimeId, 'nt-ct1', 'the runc id the container was made with');
    assert.equal(ct.hostIds.cgroup, '/nimbo-nt/ct1');
    assert.deepEqual(ct.desired, { power: 'stopped', autostart: 'last-state' });
    assert.deepEqual(ct.container, CT_V1.container);
    assert.deepEqual(ct.labels, { env: 'prod' });
    const paused = (await store.get<InstanceRecord>(keys.instance('default', 'p1')))!.value;
    assert.equal(paused.desired!.power, 'paused');
    assert.deepEqual((await store.get(keys.snapshot('default', 'vm1', 's1')))!.value, { name: 's1', instance: 'vm1' });
  }));

test('desired power: running and starting -> running, paused -> paused, everything else -> stopped', () => {
  const power = (state: InstanceRecord['state']) => instanceV1toV2({ ...CT_V1, state }, opts).desired!.power;
  assert.deepEqual(
    (['running', 'starting', 'paused', 'stopped', 'stopping', 'creating', 'error'] as const).map(power),
    ['running', 'running', 'paused', 'stopped', 'stopped', 'stopped', 'stopped'],
  );
});

test('migrating again writes nothing (idempotent): same revision, same records', () =>
  withV1Store(async (store) => {
    await migrateRecords(store, opts);
    const rev = await store.revision();
    const before = await store.list(keys.instances('default'));
    const again = await migrateRecords(store, opts);
    assert.deepEqual(again, { from: 3, to: 3, changed: 0 });
    assert.equal(await store.revision(), rev, 'no write at all');
    assert.deepEqual(await store.list(keys.instances('default')), before);
  }));

test('an empty store (first start) only gets the marker', async () => {
  const store = new SqliteStore(':memory:');
  try {
    assert.deepEqual(await migrateRecords(store, opts), { from: 1, to: 3, changed: 0 });
    assert.equal(await recordsVersion(store), 3);
  } finally {
    await store.close();
  }
});

test('a step is one transaction: a record written while it was planned makes it start over, nothing half-migrated', () =>
  withV1Store(async (store) => {
    // The first plan reads the records; a writer changes one before the txn commits, so that txn must fail.
    const realTxn = store.txn.bind(store);
    let raced = false;
    store.txn = async (compares, ops) => {
      if (!raced) {
        raced = true;
        await store.put('/instances/ct1', { ...CT_V1, cpus: 2 });
        const ok = await realTxn(compares, ops);
        assert.equal(ok, false, 'the stale plan is refused');
        assert.equal(await recordsVersion(store), 1, 'the old version stays whole');
        assert.equal((await store.get<InstanceRecord>('/instances/vm1'))!.value.v, undefined, 'no record of the stale plan was written');
        return ok;
      }
      return realTxn(compares, ops);
    };
    const res = await migrateRecords(store, opts);
    assert.ok(raced);
    assert.equal(res.to, 3);
    const ct = (await store.get<InstanceRecord>(keys.instance('default', 'ct1')))!.value;
    assert.equal(ct.cpus, 2, 'the concurrent write is kept');
    assert.equal(ct.v, 2, 'and migrated by the second plan');
  }));

test('checkInstanceRecord names the key of a record that does not match (a v1 record, a bad field)', () => {
  assert.throws(() => checkInstanceRecord('/instances/ct1', CT_V1), (e: Error & { code?: string }) => e.code === 'Internal' && /\/instances\/ct1/.test(e.message) && /version 2/.test(e.message));
  const good = instanceV1toV2(CT_V1, opts);
  assert.doesNotThrow(() => checkInstanceRecord('/instances/ct1', good));
  assert.throws(() => checkInstanceRecord('/instances/ct1', { ...good, hostIds: { runDir: 'relative' } }), /\/instances\/ct1.*hostIds/);
  assert.throws(() => checkInstanceRecord('/instances/ct1', { ...good, desired: { power: 'on', autostart: 'last-state' } }), /desired/);
});

test('a store from a newer nimbod is refused, not downgraded', async () => {
  const store = new SqliteStore(':memory:');
  try {
    await store.put(keys.recordsVersion, { version: 99, at: 'x' });
    await assert.rejects(migrateRecords(store, opts), /version 99, newer than this nimbod/);
  } finally {
    await store.close();
  }
});

/** A v2 store with one record of every scoped kind, at the keys nimbo used before projects. */
const V2_RECORDS: Record<string, unknown> = {
  '/instances/web': { ...instanceV1toV2(CT_V1, opts), name: 'web' },
  '/snapshots/web/s1': { name: 's1', instance: 'web' },
  '/volumes/default/data': { pool: 'default', name: 'data', attachedTo: 'web', limits: {} },
  '/ipam/default/10.1.0.5': { network: 'default', ip: '10.1.0.5', mac: 'm', owner: 'web', nic: 'eth0', hostname: 'web' },
  '/networks/default': { name: 'default', bridge: 'nt0' },
  '/secgroups/default': { name: 'default', rules: [] },
  '/forwards/default/tcp-1': { id: 'tcp-1', network: 'default', instance: 'web' },
  '/images/tiny': { name: 'tiny' },
};

test('v2 -> v3: every scoped record moves under project default, images to public; pools, slots and tokens stay', async () => {
  const store = new SqliteStore(':memory:');
  try {
    for (const [k, v] of Object.entries(V2_RECORDS)) await store.put(k, v);
    await store.put(keys.pool('default'), { name: 'default' });
    await store.put(keys.idmap(3), { owner: 'web' });
    await store.put(keys.recordsVersion, { version: 2, at: 'x' });
    assert.deepEqual(await migrateRecords(store, opts), { from: 2, to: 3, changed: 8 });
    const got = Object.fromEntries((await store.list('/')).filter((kv) => kv.key !== keys.recordsVersion).map((kv) => [kv.key, kv.value]));
    const tagged = (v: unknown) => ({ ...(v as object), project: 'default' });
    assert.deepEqual(got, {
      [keys.instance('default', 'web')]: tagged(V2_RECORDS['/instances/web']),
      [keys.snapshot('default', 'web', 's1')]: V2_RECORDS['/snapshots/web/s1'],
      [keys.volumeMeta('default', 'default', 'data')]: V2_RECORDS['/volumes/default/data'],
      [keys.ipamEntry('default', 'default', '10.1.0.5')]: V2_RECORDS['/ipam/default/10.1.0.5'],
      [keys.network('default', 'default')]: tagged(V2_RECORDS['/networks/default']),
      [keys.secgroup('default', 'default')]: tagged(V2_RECORDS['/secgroups/default']),
      [keys.forward('default', 'default', 'tcp-1')]: tagged(V2_RECORDS['/forwards/default/tcp-1']),
      [keys.image('tiny')]: V2_RECORDS['/images/tiny'],
      [keys.pool('default')]: { name: 'default' },
      [keys.idmap(3)]: { owner: 'web' },
    });
    const rev = await store.revision();
    assert.deepEqual(await migrateRecords(store, opts), { from: 3, to: 3, changed: 0 }, 'idempotent');
    assert.equal(await store.revision(), rev);
  } finally {
    await store.close();
  }
});

test('v2 -> v3 leaves keys already under a project alone (a newer daemon wrote them meanwhile)', async () => {
  const store = new SqliteStore(':memory:');
  try {
    await store.put(keys.recordsVersion, { version: 2, at: 'x' });
    await store.put(keys.instance('acme', 'web'), { name: 'web', project: 'acme' });
    await store.put(keys.network('acme', 'blue'), { name: 'blue', project: 'acme' });
    await store.put(keys.image('tiny'), { name: 'tiny' });
    assert.deepEqual(await migrateRecords(store, opts), { from: 2, to: 3, changed: 0 });
    assert.deepEqual((await store.get(keys.instance('acme', 'web')))!.value, { name: 'web', project: 'acme' });
    assert.ok(await store.get(keys.image('tiny')));
  } finally {
    await store.close();
  }
});
