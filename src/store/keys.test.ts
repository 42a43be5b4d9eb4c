import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keys, keyTail, lockTarget } from './keys.js';

test('the default project maps to the keys nimbo has always used', () => {
  assert.equal(keys.instance('web'), '/instances/web');
  assert.equal(keys.instance('web', 'default'), '/instances/web');
  assert.equal(keys.instances(), '/instances/');
  assert.equal(keys.snapshot('web', 's1'), '/snapshots/web/s1');
  assert.equal(keys.snapshots('web'), '/snapshots/web/');
  assert.equal(keys.volumeMeta('default', 'data'), '/volumes/default/data');
  assert.equal(keys.ipamEntry('default', '10.0.0.5'), '/ipam/default/10.0.0.5');
  assert.equal(keys.ipam('default'), '/ipam/default/');
  assert.equal(keys.forward('default', 'tcp-1'), '/forwards/default/tcp-1');
  assert.equal(keys.idmap(3), '/idmaps/3');
  assert.equal(keys.vmid(4), '/vmids/4');
  assert.equal(keys.lock(lockTarget.instance('u1')), '/locks/instance/u1');
  assert.equal(keys.lock(lockTarget.volume('p', 'v')), '/locks/volume/p/v');
  assert.equal(keys.recordsVersion, '/meta/records');
  assert.equal(keys.hostBoot(), '/hosts/local/boot');
});

test('a prefix of one instance does not cover another whose name starts the same', () => {
  assert.ok(!keys.snapshot('webx', 's').startsWith(keys.snapshots('web')));
  assert.equal(keyTail(keys.idmaps, keys.idmap(12)), '12');
  assert.equal(keyTail(keys.vmids, keys.idmap(12)), undefined);
});

test('a project other than default is refused until its layout exists (never silently mapped onto default)', () => {
  assert.throws(() => keys.instance('web', 'acme'), /only the default project/);
  assert.throws(() => keys.snapshots('web', 'acme'), /only the default project/);
});
