import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkIsoLaunch } from './iso-launch.js';

test('checkIsoLaunch: an ISO needs --iso, --iso needs an ISO and a VM', () => {
  const iso = { iso: true, pending: false };
  const disk = { pending: false };
  assert.doesNotThrow(() => checkIsoLaunch({ image: 'deb', iso: true }, iso, 'vm'));
  assert.doesNotThrow(() => checkIsoLaunch({ image: 'tiny' }, disk, 'vm'));
  assert.throws(() => checkIsoLaunch({ image: 'deb' }, iso, 'vm'), /deb is an ISO .*launch it with --iso/);
  assert.throws(() => checkIsoLaunch({ image: 'tiny', iso: true }, disk, 'vm'), /tiny is a disk image, not an ISO/);
  assert.throws(() => checkIsoLaunch({ image: 'tiny', iso: true }, { pending: true }, 'vm'), /not an ISO/);
  assert.throws(() => checkIsoLaunch({ image: 'app', iso: true }, { oci: {}, pending: false }, 'vm'), /OCI application image, not an ISO/);
  assert.throws(() => checkIsoLaunch({ image: 'deb', iso: true, type: 'container' }, iso, 'container'), /installs a VM/);
});
