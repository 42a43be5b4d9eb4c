import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkReshift, checkShift, overlayMountOptions, parseMountinfo, retargetContainerRoot, shiftId } from './container-root.js';

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

test('shiftId with a source range: a copied root moves from the old range to the same offset in the new one', () => {
  const from = { hostId: 1_000_000, size: 65536 };
  const to = { hostId: 1_065_536, size: 65536 };
  assert.equal(shiftId(1_000_000, to, from), 1_065_536, 'root');
  assert.equal(shiftId(1_001_000, to, from), 1_066_536, 'uid 1000');
  assert.equal(shiftId(1_065_535, to, from), 1_131_071, 'last id of the old range');
  assert.equal(shiftId(1_065_536 + 33, to, from), 1_065_536 + 33, 'already moved: idempotent');
  assert.equal(shiftId(0, to, from), 1_065_536, 'unshifted ids still move up');
  assert.equal(shiftId(500, to, from), 1_066_036);
  assert.equal(shiftId(3_000_000, to, from), 1_065_536 + 65534, 'foreign ids become nobody');
  // Moving down works the same way.
  assert.equal(shiftId(1_065_536 + 7, from, to), 1_000_007);
  // A smaller target range maps what does not fit to nobody.
  assert.equal(shiftId(2_000_000 + 70_000, { hostId: 1_000_000, size: 65536 }, { hostId: 2_000_000, size: 131072 }), 1_065_534);
});

test('checkReshift: ranges must be valid and must not overlap unless equal', () => {
  checkReshift({ hostId: 1_000_000, size: 65536 }, { hostId: 1_065_536, size: 65536 });
  checkReshift({ hostId: 1_000_000, size: 65536 }, { hostId: 1_000_000, size: 65536 });
  assert.throws(() => checkReshift({ hostId: 1_000_000, size: 65536 }, { hostId: 1_000_001, size: 65536 }), /overlap/);
  assert.throws(() => checkReshift({ hostId: 10, size: 65536 }, { hostId: 1_000_000, size: 65536 }), /invalid id range/);
});

test('retargetContainerRoot records the old range and asks for a new shift; a second call keeps the first source', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-retarget-'));
  try {
    const state = { version: 1, lowerDir: '/x', hostId: 1_000_000, size: 65536, mode: 'copy', shifted: true };
    writeFileSync(join(dir, 'nimbo-root.json'), JSON.stringify(state));
    const s1 = await retargetContainerRoot(dir, { hostId: 1_065_536, size: 65536 });
    assert.deepEqual(s1, { ...state, hostId: 1_065_536, shifted: false, from: { hostId: 1_000_000, size: 65536 } });
    const s2 = await retargetContainerRoot(dir, { hostId: 1_131_072, size: 65536 });
    assert.deepEqual(s2.from, { hostId: 1_000_000, size: 65536 });
    assert.equal(JSON.parse(readFileSync(join(dir, 'nimbo-root.json'), 'utf8')).hostId, 1_131_072);
    await assert.rejects(retargetContainerRoot(dir, { hostId: 1_000_001, size: 65536 }), /overlap/);
    await assert.rejects(retargetContainerRoot(join(dir, 'none'), { hostId: 1_065_536, size: 65536 }), /container root/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
