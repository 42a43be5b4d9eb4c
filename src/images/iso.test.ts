import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { FakeExec } from '../host/fake-exec.js';
import { importImage } from './import.js';
import { isIso9660, isIso9660Magic, isoVolumeId, ISO9660_MAGIC_OFFSET } from './iso.js';

/** An ISO 9660-shaped file: a primary volume descriptor at sector 16 with "CD001" and a volume id. */
function fakeIso(volumeId: string, size = 0x9000): Buffer {
  const b = Buffer.alloc(size);
  b[0x8000] = 1;
  b.write('CD001', ISO9660_MAGIC_OFFSET, 'ascii');
  b.write(volumeId.padEnd(32, ' '), 0x8028, 'ascii');
  // An isohybrid ISO has an MBR boot signature too: content decides, not that.
  b[510] = 0x55;
  b[511] = 0xaa;
  return b;
}

async function withDir(fn: (d: string) => Promise<void>) {
  const d = await mkdtemp(join(tmpdir(), 'nimbo-iso-'));
  try {
    await fn(d);
  } finally {
    await rm(d, { recursive: true, force: true });
  }
}

test('isIso9660Magic: CD001 only', () => {
  assert.equal(isIso9660Magic(Buffer.from('CD001')), true);
  assert.equal(isIso9660Magic(Buffer.from('CD002')), false);
  assert.equal(isIso9660Magic(Buffer.from('CD0')), false);
});

test('isIso9660 reads the content at 0x8001, whatever the name; a short or other file is no ISO', async () => {
  await withDir(async (d) => {
    await writeFile(join(d, 'disk.qcow2'), fakeIso('MYCD'));
    await writeFile(join(d, 'x.iso'), Buffer.alloc(0x9000));
    await writeFile(join(d, 'short.iso'), 'CD001');
    assert.equal(await isIso9660(join(d, 'disk.qcow2')), true);
    assert.equal(await isIso9660(join(d, 'x.iso')), false);
    assert.equal(await isIso9660(join(d, 'short.iso')), false);
    assert.equal(await isoVolumeId(join(d, 'disk.qcow2')), 'MYCD');
  });
});

test('importImage keeps an ISO as it is: type iso, disk.iso (0644), no qemu-img at all', async () => {
  await withDir(async (d) => {
    const src = join(d, 'installer.img');
    await writeFile(src, fakeIso('DEBIAN 12'));
    const exec = new FakeExec();
    const img = await importImage({ exec, file: src, name: 'deb-inst', outDir: join(d, 'out') });
    assert.equal(img.type, 'iso');
    assert.equal(img.format, 'raw');
    assert.equal(img.disk, join(d, 'out', 'disk.iso'));
    assert.equal(img.virtualSizeBytes, 0x9000);
    assert.match(img.os, /DEBIAN 12/);
    assert.deepEqual(await readFile(img.disk), await readFile(src));
    assert.equal((await stat(img.disk)).mode & 0o777, 0o644);
    assert.deepEqual(exec.calls, []);
    const json = JSON.parse(await readFile(join(d, 'out', 'image.json'), 'utf8')) as { type?: string };
    assert.equal(json.type, 'iso');
  });
});
