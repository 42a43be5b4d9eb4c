import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keys, keyTail, lockTarget, projectOfKey } from './keys.js';

test('project-scoped keys: kind first, then project, then the record path', () => {
  assert.equal(keys.instance('default', 'web'), '/instances/default/web');
  assert.equal(keys.instances('acme'), '/instances/acme/');
  assert.equal(keys.snapshot('acme', 'web', 's1'), '/snapshots/acme/web/s1');
  assert.equal(keys.snapshots('acme', 'web'), '/snapshots/acme/web/');
  assert.equal(keys.volumeMeta('acme', 'default', 'data'), '/volumes/acme/default/data');
  assert.equal(keys.ipamEntry('acme', 'blue', '10.0.0.5'), '/ipam/acme/blue/10.0.0.5');
  assert.equal(keys.ipam('acme', 'blue'), '/ipam/acme/blue/');
  assert.equal(keys.network('acme', 'blue'), '/networks/acme/blue');
  assert.equal(keys.secgroup('acme', 'web'), '/secgroups/acme/web');
  assert.equal(keys.forward('acme', 'blue', 'tcp-1'), '/forwards/acme/blue/tcp-1');
  assert.equal(keys.privateImage('acme', 'mine'), '/images/acme/mine');
  assert.equal(keys.image('tiny'), '/images/public/tiny');
});

test('host-global keys keep their layout', () => {
  assert.equal(keys.idmap(3), '/idmaps/3');
  assert.equal(keys.vmid(4), '/vmids/4');
  assert.equal(keys.pool('default'), '/pools/default');
  assert.equal(keys.operation('u1'), '/operations/u1');
  assert.equal(keys.lock(lockTarget.instance('u1')), '/locks/instance/u1');
  assert.equal(keys.recordsVersion, '/meta/records');
  assert.equal(keys.hostBoot(), '/hosts/local/boot');
});

test('every project prefix lies under its all* prefix, and two projects never share a prefix', () => {
  for (const [all, one] of [[keys.allInstances, keys.instances], [keys.allNetworks, keys.networks], [keys.allSecgroups, keys.secgroups], [keys.allVolumeMeta, keys.volumeMetaOfProject]] as const) {
    assert.ok(one('acme').startsWith(all));
    assert.ok(!one('acme').startsWith(one('ac')) && !one('ac').startsWith(one('acme')));
  }
  assert.ok(!keys.instance('acme', 'web').startsWith(keys.instances('default')));
  assert.ok(!keys.privateImage('acme', 'x').startsWith(keys.images), 'a private image is not in the public list');
  assert.ok(!keys.privateImage('public', 'x').startsWith(keys.images), 'not even for a project named public');
});

test('a prefix of one instance does not cover another whose name starts the same', () => {
  assert.ok(!keys.snapshot('p', 'webx', 's').startsWith(keys.snapshots('p', 'web')));
  assert.equal(keyTail(keys.idmaps, keys.idmap(12)), '12');
  assert.equal(keyTail(keys.vmids, keys.idmap(12)), undefined);
});

test('lock targets of volumes and networks include the project', () => {
  assert.notEqual(lockTarget.volume('a', 'default', 'data'), lockTarget.volume('b', 'default', 'data'));
  assert.notEqual(lockTarget.network('a', 'blue'), lockTarget.network('b', 'blue'));
});

test('projectOfKey reads the project of a scoped key; a bad project segment is refused', () => {
  assert.equal(projectOfKey(keys.instance('acme', 'web')), 'acme');
  assert.equal(projectOfKey(keys.pool('x')), undefined);
  assert.throws(() => keys.instance('a/b', 'web'), /bad project/);
  assert.throws(() => keys.instances(''), /bad project/);
});
