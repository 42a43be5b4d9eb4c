// Two projects on one core: each has an instance `web`, a network `blue`, a volume `data`, a group `web` and a
// snapshot `s1`, at once; no list, get, change or host name crosses between them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coreFixture, type CoreFixture } from './testing/core-fixture.js';
import { keys } from '../store/keys.js';
import type { Operation } from '../shared/api-types.js';
import { InstanceUpdate } from './instance-update.js';
import { StoreLocks } from './locks.js';
import { silentLogger } from '../lib/log.js';

const ok = async (t: CoreFixture, op: Promise<Operation>) => assert.equal((await t.wait(await op)).status, 'success');

/** In each project: network blue, instance web on it (stopped), volume data attached, group web, snapshot s1. */
async function twoProjects(t: CoreFixture) {
  for (const p of ['acme', 'umbrella']) {
    await ok(t, t.network.create(p, { name: 'blue' }));
    await t.launch({ name: 'web', image: 'tiny', start: false, nics: [{ network: 'blue' }] }, p);
    await ok(t, t.storage.createVolume(p, 'default', { name: 'data', size: '16MiB' }));
    await ok(t, t.volumes.attach(p, 'web', 'default', 'data'));
    await t.firewall.create(p, { name: 'web', rules: [{ direction: 'ingress', protocol: 'tcp', ports: '80' }] });
    await ok(t, t.snapshots.create(p, 'web', { name: 's1' }));
  }
}

test('two projects each have web, blue, data, group web and snapshot s1; lists and gets stay in their project', async () => {
  const t = await coreFixture();
  try {
    await twoProjects(t);
    const a = await t.instances.record('acme', 'web');
    const u = await t.instances.record('umbrella', 'web');
    assert.notEqual(a.uuid, u.uuid, 'two instances');
    assert.equal(a.project, 'acme');
    assert.deepEqual((await t.instances.records('acme')).map((r) => r.uuid), [a.uuid]);
    assert.deepEqual((await t.instances.records('umbrella')).map((r) => r.uuid), [u.uuid]);
    assert.deepEqual(await t.instances.records('default'), []);
    await assert.rejects(t.instances.record('default', 'web'), /instance web not found/);

    const na = await t.network.view('acme', 'blue');
    const nu = await t.network.view('umbrella', 'blue');
    assert.notEqual(na.bridge, nu.bridge, 'one bridge each');
    assert.notEqual(na.subnet, nu.subnet);
    assert.deepEqual(na.instances, ['web']);
    assert.deepEqual((await t.network.list('acme')).map((n) => n.name), ['blue']);
    assert.deepEqual((await t.network.list('default')).map((n) => n.name), ['default']);
    const specs = (await t.network.specs()).map((s) => [s.name, s.stateDir]);
    assert.equal(new Set(specs.map((s) => s[0])).size, specs.length, 'host-wide network names are unique');
    assert.equal(new Set(specs.map((s) => s[1])).size, specs.length, 'state dirs are unique');
    assert.ok(a.nics[0]!.address.startsWith(na.subnet.split('.').slice(0, 3).join('.')), 'acme web is on acme blue');
    assert.deepEqual((await t.network.leases('umbrella', 'blue')).map((l) => l.ip), [u.nics[0]!.address.split('/')[0]]);

    const va = await t.storage.volume('acme', 'default', 'data');
    assert.equal(va.attachedTo, 'web');
    assert.deepEqual((await t.storage.volumes('acme', 'default')).map((v) => v.name).sort(), [a.root!.volume, 'data'].sort());
    assert.ok(!(await t.storage.volumes('default', 'default')).some((v) => v.name === 'data'), 'the default project sees neither data');
    assert.notEqual(t.storage.hostVolume('acme', 'data'), t.storage.hostVolume('umbrella', 'data'), 'two files in one pool');
    assert.deepEqual((await t.pool.listVolumes()).filter((v) => v.name === 'data'), [], 'no project took the bare name');

    assert.deepEqual((await t.snapshots.list('acme', 'web')).map((s) => s.name), ['s1']);
    assert.deepEqual((await t.firewall.list('acme')).map((g) => g.name).sort(), ['default', 'web']);
    const policy = await t.firewall.policy();
    assert.equal(new Set(policy.groups.map((g) => g.name)).size, policy.groups.length, 'host-wide group names are unique');
    assert.ok(policy.groups.some((g) => g.name === 'acme_web') && policy.groups.some((g) => g.name === 'umbrella_web'));
    // Every operation of the two projects (network, launch, volume, attach, snapshot) names its project.
    const ops = await t.ops.list();
    assert.ok(ops.length >= 10);
    for (const op of ops) assert.ok(op.project === 'acme' || op.project === 'umbrella', `${op.kind} ${op.target}: project ${op.project}`);
  } finally {
    await t.done();
  }
});

test('a change in one project leaves the other alone: delete, rename, detach, group delete', async () => {
  const t = await coreFixture();
  try {
    await twoProjects(t);
    const u = await t.instances.record('umbrella', 'web');
    await ok(t, t.volumes.detach('acme', 'web', 'default', 'data'));
    assert.equal((await t.storage.volume('umbrella', 'default', 'data')).attachedTo, 'web', 'umbrella data still attached');
    await ok(t, t.actions.remove('acme', 'web', true));
    await assert.rejects(t.instances.record('acme', 'web'), /not found/);
    assert.equal((await t.instances.record('umbrella', 'web')).uuid, u.uuid);
    assert.deepEqual((await t.snapshots.list('umbrella', 'web')).map((s) => s.name), ['s1']);
    assert.deepEqual((await t.network.leases('umbrella', 'blue')).length, 1);
    assert.deepEqual(await t.store.list(keys.snapshots('acme', 'web')), []);
    await t.firewall.delete('acme', 'web');
    assert.ok((await t.firewall.list('umbrella')).some((g) => g.name === 'web'));
    await ok(t, t.network.delete('acme', 'blue'));
    assert.equal((await t.network.view('umbrella', 'blue')).name, 'blue');
  } finally {
    await t.done();
  }
});

test('operations and events of a project resource carry the project', async () => {
  const t = await coreFixture();
  try {
    const seen: (string | undefined)[] = [];
    t.events.subscribe((ev) => ev.type === 'instance' && seen.push(ev.project));
    await ok(t, t.network.create('acme', { name: 'blue' }));
    const op = await t.instances.create('acme', { name: 'web', image: 'tiny', start: false, nics: [{ network: 'blue' }] });
    assert.equal(op.project, 'acme');
    assert.equal((await t.wait(op)).project, 'acme');
    assert.ok(seen.length > 0 && seen.every((p) => p === 'acme'), `instance events: ${JSON.stringify(seen)}`);
    const platform = await t.ops.start('storage.pool.delete', 'pool/p2', async () => null);
    assert.equal(platform.project, undefined, 'a pool operation is a platform one');
  } finally {
    await t.done();
  }
});

test('a project without networks gets its own default network (own bridge and subnet) at its first launch', async () => {
  const t = await coreFixture();
  try {
    const rec = await t.launch({ name: 'web', image: 'tiny', start: false }, 'acme');
    const own = await t.network.view('acme', 'default');
    const main = await t.network.view('default', 'default');
    assert.notEqual(own.bridge, main.bridge);
    assert.notEqual(own.subnet, main.subnet);
    assert.equal(rec.nics[0]!.network, 'default');
    assert.deepEqual(own.instances, ['web']);
    assert.deepEqual(main.instances, []);
  } finally {
    await t.done();
  }
});

test('a rename in one project moves only that project\'s references (snapshots, addresses, volume claims)', async () => {
  const t = await coreFixture();
  try {
    await twoProjects(t);
    const refreshed: string[] = [];
    const update = new InstanceUpdate({
      store: t.store, locks: new StoreLocks(t.store), refreshNetwork: async (p, n) => void refreshed.push(`${p}/${n}`), applyFirewall: async () => {},
      publish: () => {}, legacyHostIds: () => { throw new Error('not a legacy record'); }, log: silentLogger(), daemonId: 'd1',
    });
    await update.rename('acme', 'web', 'www');
    assert.deepEqual(refreshed, ['acme/blue']);
    assert.deepEqual((await t.snapshots.list('acme', 'www')).map((s) => s.name), ['s1']);
    assert.equal((await t.storage.volume('acme', 'default', 'data')).attachedTo, 'www');
    assert.deepEqual((await t.network.leases('acme', 'blue')).map((l) => l.instance), ['www']);
    // umbrella's web and everything naming it are untouched.
    assert.deepEqual((await t.snapshots.list('umbrella', 'web')).map((s) => s.name), ['s1']);
    assert.equal((await t.storage.volume('umbrella', 'default', 'data')).attachedTo, 'web');
    assert.deepEqual((await t.network.leases('umbrella', 'blue')).map((l) => l.instance), ['web']);
    // The same new name is free in the other project.
    await update.rename('umbrella', 'web', 'www');
    assert.notEqual((await t.instances.record('acme', 'www')).uuid, (await t.instances.record('umbrella', 'www')).uuid);
  } finally {
    await t.done();
  }
});
