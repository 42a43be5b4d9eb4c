import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkShift, overlayMountOptions, parseMountinfo, shiftId } from './container-root.js';

test('shiftId: container ids move into the range, shifted ids stay, others become nobody', () => {
  const s = { hostId: 100000, size: 65536 };
  assert.equal(shiftId(0, s), 100000);
  assert.equal(shiftId(1000, s), 101000);
  assert.equal(shiftId(65535, s), 165535);
  assert.equal(shiftId(100000, s), 100000, 'idempotent');
  assert.equal(shiftId(165535, s), 165535);
  assert.equal(shiftId(4294967294, s), 165534);
  assert.equal(shiftId(165536, s), 165534);
});

test('checkShift: the range must not overlap the container ids', () => {
  checkShift({ hostId: 65536, size: 65536 });
  checkShift({ hostId: 100000, size: 65536 });
  assert.throws(() => checkShift({ hostId: 1000, size: 65536 }), /invalid id range/);
  assert.throws(() => checkShift({ hostId: 100000, size: 1000 }), /invalid id range/);
  assert.throws(() => checkShift({ hostId: 0xffffffff - 10, size: 65536 }), /invalid id range/);
  assert.throws(() => checkShift({ hostId: 1.5e5 + 0.5, size: 65536 }), /invalid id range/);
});

test('overlay options: metacopy on, odd paths refused', () => {
  assert.equal(overlayMountOptions('/i/root', '/v/upper', '/v/work'),
    'lowerdir=/i/root,upperdir=/v/upper,workdir=/v/work,metacopy=on,redirect_dir=on,index=off');
  for (const bad of ['/a,b', '/a:b', '/a b', '/a\\b', '/a\nb']) {
    assert.throws(() => overlayMountOptions(bad, '/u', '/w'), /cannot be an overlay layer/);
  }
});

test('parseMountinfo: mount points, types, sources (octal escapes decoded)', () => {
  const text = [
    '27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
    '54 27 0:39 / /var/lib/nimbo/v\\040x/rootfs rw,relatime - overlay nimbo-rootfs rw,lowerdir=/i,upperdir=/u,workdir=/w,metacopy=on',
    '',
    'garbage',
  ].join('\n');
  assert.deepEqual(parseMountinfo(text), [
    { mountPoint: '/', fsType: 'ext4', source: '/dev/vda', superOptions: 'rw' },
    { mountPoint: '/var/lib/nimbo/v x/rootfs', fsType: 'overlay', source: 'nimbo-rootfs',
      superOptions: 'rw,lowerdir=/i,upperdir=/u,workdir=/w,metacopy=on' },
  ]);
});
