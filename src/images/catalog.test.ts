import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { getBuilder } from './catalog.js';
import { readBuiltImage, readCompleteImage, writeBuiltImage } from './publish.js';
import type { BuiltImage } from './types.js';

test('write/readBuiltImage round-trip; paths follow a moved dir', async () => {
  const root = await mkdtemp(join(tmpdir(), 'qh2-catalog-'));
  try {
    const dir = join(root, 'a');
    const img: BuiltImage = {
      name: 'tiny', dir, disk: join(dir, 'disk.qcow2'), format: 'qcow2', virtualSizeBytes: 1024,
      boot: { kind: 'direct', kernel: join(dir, 'vmlinux'), initrd: join(dir, 'initrd.img'), cmdline: 'console=ttyS0' },
      os: 'x', readyMarker: 'NIMBO-READY',
    };
    await writeBuiltImage(img);
    assert.deepEqual(await readBuiltImage(dir), img);
    assert.equal(await readCompleteImage(dir), undefined, 'files missing → not complete');
    for (const f of ['disk.qcow2', 'vmlinux', 'initrd.img']) await writeFile(join(dir, f), '');
    assert.deepEqual(await readCompleteImage(dir), img);
    await rename(dir, join(root, 'b'));
    const moved = await readBuiltImage(join(root, 'b'));
    assert.equal(moved.disk, join(root, 'b', 'disk.qcow2'));
    assert.deepEqual(moved.boot, { ...img.boot, kernel: join(root, 'b', 'vmlinux'), initrd: join(root, 'b', 'initrd.img') });
    await assert.rejects(readBuiltImage(join(root, 'none')), { code: 'NotFound' });
    await writeFile(join(root, 'b', 'image.json'), '{"name":1}');
    await assert.rejects(readBuiltImage(join(root, 'b')), { code: 'Internal' });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('getBuilder: known names, InvalidArgument otherwise', () => {
  assert.equal(typeof getBuilder('tiny'), 'function');
  assert.equal(typeof getBuilder('debian-12'), 'function');
  assert.throws(() => getBuilder('toString'), { code: 'InvalidArgument' });
  assert.throws(() => getBuilder('windows'), { code: 'InvalidArgument' });
});
