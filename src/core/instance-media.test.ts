import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { NimboError } from '../lib/errors.js';
import { keys } from '../store/keys.js';
import type { BuiltImage } from '../images/types.js';
import { InstanceMedia } from './instance-media.js';
import { coreFixture, type CoreFixture } from './testing/core-fixture.js';

const GiB = 1024 ** 3;

/** A ready ISO image `name` (type iso). */
async function addIso(t: CoreFixture, name: string): Promise<string> {
  const dir = join(t.paths.images, name);
  const img: BuiltImage = { name, dir, disk: join(dir, 'disk.iso'), format: 'raw', type: 'iso', virtualSizeBytes: 600 * 1024 ** 2, boot: { kind: 'disk' }, os: 'ISO 9660' };
  await t.store.put(keys.image(name), { name, source: 'upload', status: 'ready', createdAt: new Date().toISOString(), built: img });
  return img.disk;
}

const code = (c: string) => (e: unknown) => e instanceof NimboError && e.code === c;

test('launch --iso: an empty root of 8 GiB by default, the ISO in the drive, booted by disk kind; refusals make nothing', async () => {
  const t = await coreFixture();
  try {
    const isoPath = await addIso(t, 'inst-iso');
    const before = await t.snapshot();
    await assert.rejects(t.instances.create('default', { name: 'a', image: 'inst-iso' }), /inst-iso is an ISO .*--iso/);
    await assert.rejects(t.instances.create('default', { name: 'b', image: 'tiny', iso: true }), /tiny is a disk image, not an ISO/);
    await assert.rejects(t.instances.create('default', { name: 'c', image: 'inst-iso', iso: true, type: 'container' }), /installs a VM/);
    assert.deepEqual(await t.snapshot(), before, 'nothing made');

    const rec = await t.launch({ name: 'vm1', image: 'inst-iso', iso: true, start: false });
    assert.deepEqual(rec.cdrom, { image: 'inst-iso' });
    assert.equal(rec.disk, 8 * GiB);
    const made = t.pool.journal.map((j) => j.method);
    assert.ok(made.includes('createVolume') && !made.includes('cloneFromImage'), made.join(' '));
    const spec = await t.runtime.specOf(rec, { boot: true });
    assert.deepEqual(spec.cdrom, { path: isoPath });
    assert.deepEqual(spec.boot, { kind: 'disk' });
    assert.equal((await t.views.view(rec)).media, 'inst-iso');
    assert.deepEqual(await t.instances.usersOf('inst-iso'), ['vm1']);
  } finally {
    await t.done();
  }
});

test('media: eject and insert on a stopped VM change the record (and so its next start); refusals', async () => {
  const t = await coreFixture();
  try {
    await addIso(t, 'inst-iso');
    const other = await addIso(t, 'tools');
    const media = new InstanceMedia(t.runtime, t.repo, t.views);
    await t.launch({ name: 'vm1', image: 'inst-iso', iso: true, start: false });
    await t.launch({ name: 'plain', image: 'tiny', start: false });

    assert.equal((await t.wait(await media.eject('default', 'vm1'))).status, 'success');
    let rec = await t.repo.record('default', 'vm1');
    assert.deepEqual(rec.cdrom, { image: null });
    assert.deepEqual((await t.runtime.specOf(rec, { boot: true })).cdrom, {});
    assert.deepEqual(await t.instances.usersOf('inst-iso'), [], 'ejected: the ISO it was installed from is free');

    assert.equal((await t.wait(await media.insert('default', 'vm1', 'tools'))).status, 'success');
    rec = await t.repo.record('default', 'vm1');
    assert.deepEqual(rec.cdrom, { image: 'tools' });
    assert.deepEqual((await t.runtime.specOf(rec, { boot: true })).cdrom, { path: other });

    await assert.rejects(media.insert('default', 'vm1', 'tiny'), /tiny is a disk image, not an ISO/);
    await assert.rejects(media.insert('default', 'plain', 'tools'), code('Conflict'));
    await assert.rejects(media.eject('default', 'plain'), /no CD-ROM drive/);
    await assert.rejects(media.insert('default', 'vm1', 'ghost'), code('NotFound'));
    assert.deepEqual((await t.repo.record('default', 'vm1')).cdrom, { image: 'tools' }, 'unchanged by the refusals');
  } finally {
    await t.done();
  }
});
