import { test } from 'node:test';
import assert from 'node:assert/strict';
import { userDataOf } from './user-data-input.js';
import { copyRecord } from '../instance-copy.js';
import type { InstanceRecord } from '../instance-record.js';

test('userDataOf: checked fields for the record; app containers and oversized data refused', () => {
  assert.deepEqual(userDataOf({}), {});
  assert.deepEqual(userDataOf({ userData: '#!/bin/sh\n', vendorData: '#cloud-config\n' }), { userData: '#!/bin/sh\n', vendorData: '#cloud-config\n' });
  assert.deepEqual(userDataOf({ vendorData: 'v' }), { vendorData: 'v' });
  assert.throws(() => userDataOf({ userData: '#!/bin/sh\n', app: {} }), /application container \(app\) runs no cloud-init/);
  assert.throws(() => userDataOf({ vendorData: 'x'.repeat(65537) }), /vendor-data is 65537 bytes; the limit is 65536 bytes/);
});

test('a copy keeps the source\'s user-data and vendor-data', () => {
  const src = { name: 'a', uuid: 'u1', type: 'vm', image: 'tiny', cpus: 1, memory: 1, disk: 1, sshKeys: [], state: 'running', accelerator: 'tcg', nics: [], createdAt: '', userData: 'U', vendorData: 'V' } as InstanceRecord;
  const c = copyRecord(src, 'b', 'u2');
  assert.equal(c.userData, 'U');
  assert.equal(c.vendorData, 'V');
  assert.equal(copyRecord({ ...src, userData: undefined, vendorData: undefined }, 'c', 'u3').userData, undefined);
});
