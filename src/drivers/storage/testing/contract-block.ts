// Contract cases for pools and block volumes: init rules, create, snapshots, clones, resize, rename.
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createStorageDriver } from '../index.js';
import { MiB, rejectsWith, type ContractCase, type ContractCtx } from './contract-kit.js';
import { hasPattern, writePattern } from './volume-data.js';

const has = async (c: ContractCtx, name: string, byte: number, off = 0, len = MiB) => hasPattern(c.exec, await c.loc(name), byte, off, len);
const put = async (c: ContractCtx, name: string, byte: number, off = 0, len = MiB) => writePattern(c.exec, await c.loc(name), byte, off, len);

/** Pool and block volume cases, run in order (later cases use earlier volumes). */
export const blockCases: ContractCase[] = [
  {
    name: 'initPool is idempotent and refuses foreign, mismatched or unsuitable places',
    async run(c) {
      await c.dr.initPool();
      assert.equal(c.caps.formats.length, 1);
      const other = c.target.driver === 'dir' ? 'btrfs' : 'dir';
      await rejectsWith(createStorageDriver({ name: 'qs-x', driver: other, path: c.poolPath, options: {} }, { exec: c.exec }).initPool(), 'Conflict');
      const foreign = join(c.scratch.dir, 'foreign');
      await mkdir(foreign);
      await writeFile(join(foreign, 'keep.txt'), 'not nimbo');
      await rejectsWith(createStorageDriver({ name: 'qs-x', driver: c.target.driver, path: foreign, options: c.target.options }, { exec: c.exec }).initPool(), 'Conflict', /not empty/);
      const r = c.target.refusal;
      const place = await r.on();
      try {
        const spec = { name: 'qs-x', driver: r.driver, path: join(place.dir, 'refused'), options: r.options };
        await rejectsWith(createStorageDriver(spec, { exec: c.exec }).initPool(), 'InvalidArgument', r.match);
      } finally {
        await place.cleanup();
      }
      await rejectsWith(Promise.resolve().then(() => createStorageDriver({ name: 'qs-x', driver: 'dir', path: 'relative/p', options: {} }, { exec: c.exec })), 'InvalidArgument');
    },
  },
  {
    name: 'createVolume is thin, validated and unique',
    async run(c) {
      const v = await c.dr.createVolume({ name: 'qs-a', kind: 'block', sizeBytes: 64 * MiB });
      assert.equal(v.virtualSizeBytes, 64 * MiB);
      assert.equal(v.format, c.caps.formats[0]);
      assert.ok(v.allocatedBytes < 4 * MiB, `thin: ${v.allocatedBytes} bytes allocated`);
      const loc = await c.loc('qs-a');
      assert.equal(loc.type, 'file');
      assert.equal(loc.format, c.caps.formats[0]);
      await rejectsWith(c.dr.createVolume({ name: 'qs-a', kind: 'block', sizeBytes: MiB }), 'Conflict', /already exists/);
      await rejectsWith(c.dr.createVolume({ name: 'Bad_Name', kind: 'block', sizeBytes: MiB }), 'InvalidArgument');
      await rejectsWith(c.dr.createVolume({ name: '../x', kind: 'block', sizeBytes: MiB }), 'InvalidArgument');
      await rejectsWith(c.dr.createVolume({ name: 'qs-z', kind: 'block', sizeBytes: 0 }), 'InvalidArgument');
      await rejectsWith(c.dr.createVolume({ name: 'qs-z', kind: 'block', sizeBytes: 4096 }), 'InvalidArgument', /out of range/);
      const wrong = c.caps.formats[0] === 'raw' ? 'qcow2' : 'raw';
      await rejectsWith(c.dr.createVolume({ name: 'qs-z', kind: 'block', sizeBytes: MiB, format: wrong }), 'InvalidArgument');
      await rejectsWith(c.dr.volumeInfo('qs-none'), 'NotFound');
      const u = await c.dr.poolUsage();
      assert.equal(u.volumes, 1);
      assert.equal(u.provisionedBytes, 64 * MiB);
      assert.ok(u.sizeBytes > 0 && u.usedBytes > 0 && u.availableBytes > 0);
    },
  },
  {
    name: 'snapshot, change, restore brings back the earlier data; snapshot names are checked',
    async run(c) {
      await put(c, 'qs-a', 0xab);
      const s = await c.dr.createSnapshot('qs-a', 's1');
      assert.equal(s.name, 's1');
      assert.ok(Date.parse(s.createdAt) > Date.now() - 600_000);
      await put(c, 'qs-a', 0xcd);
      assert.ok(await has(c, 'qs-a', 0xcd));
      assert.deepEqual((await c.dr.listSnapshots('qs-a')).map((x) => x.name), ['s1']);
      await rejectsWith(c.dr.createSnapshot('qs-a', 's1'), 'Conflict');
      await rejectsWith(c.dr.createSnapshot('qs-a', 'Not Valid'), 'InvalidArgument');
      await c.dr.restoreSnapshot('qs-a', 's1');
      assert.ok(await has(c, 'qs-a', 0xab), 'restored data');
      await rejectsWith(c.dr.restoreSnapshot('qs-a', 'nope'), 'NotFound');
      await rejectsWith(c.dr.createSnapshot('qs-none', 'x1'), 'NotFound');
      await c.dr.createSnapshot('qs-a', 's2');
      assert.deepEqual((await c.dr.listSnapshots('qs-a')).map((x) => x.name), ['s1', 's2']);
      await c.dr.deleteSnapshot('qs-a', 's2');
      await rejectsWith(c.dr.deleteSnapshot('qs-a', 's2'), 'NotFound');
      assert.equal((await c.dr.volumeInfo('qs-a')).snapshots, 1);
    },
  },
  {
    name: 'linked and full clones read the source data and are independent of it',
    async run(c) {
      await c.dr.createVolume({ name: 'qs-src', kind: 'block', sizeBytes: 32 * MiB });
      await put(c, 'qs-src', 0x21);
      const l = await c.dr.cloneVolume('qs-src', 'qs-l', { mode: 'linked' });
      assert.equal(l.virtualSizeBytes, 32 * MiB);
      assert.ok(await has(c, 'qs-l', 0x21));
      await put(c, 'qs-l', 0x22);
      assert.ok(await has(c, 'qs-src', 0x21), 'source unchanged by a write to its clone');
      await put(c, 'qs-src', 0x23);
      assert.ok(await has(c, 'qs-l', 0x22), 'clone unchanged by a write to its source');
      // Cloning an unchanged source again and again (a template) works and reads the same.
      await c.dr.cloneVolume('qs-src', 'qs-l2', { mode: 'linked' });
      await c.dr.cloneVolume('qs-src', 'qs-l3', { mode: 'linked' });
      assert.ok((await has(c, 'qs-l2', 0x23)) && (await has(c, 'qs-l3', 0x23)) && (await has(c, 'qs-src', 0x23)));
      await c.dr.cloneVolume('qs-src', 'qs-f', { mode: 'full' });
      assert.ok(await has(c, 'qs-f', 0x23));
      assert.equal((await c.dr.volumeInfo('qs-f')).linked, false);
      await put(c, 'qs-f', 0x24);
      assert.ok(await has(c, 'qs-src', 0x23));
      await rejectsWith(c.dr.cloneVolume('qs-src', 'qs-f', { mode: 'full' }), 'Conflict');
      await rejectsWith(c.dr.cloneVolume('qs-none', 'qs-n2', { mode: 'full' }), 'NotFound');
      await rejectsWith(c.dr.cloneVolume('qs-src', 'qs-n2', { mode: 'full', fromSnapshot: 'nope' }), 'NotFound');
      await rejectsWith(c.dr.cloneVolume('qs-src', 'qs-n2', { mode: 'other' as 'full' }), 'InvalidArgument');
    },
  },
  {
    name: 'clones from a snapshot, and linked clones of a volume with snapshots, per capability',
    async run(c) {
      await c.dr.createSnapshot('qs-src', 'base1'); // holds 0x23
      await put(c, 'qs-src', 0x25);
      await c.dr.cloneVolume('qs-src', 'qs-fs1', { mode: 'full', fromSnapshot: 'base1' });
      assert.ok(await has(c, 'qs-fs1', 0x23), 'full clone of a snapshot');
      if (c.caps.linkedClonesWithSnapshots) {
        await c.dr.cloneVolume('qs-src', 'qs-ls1', { mode: 'linked', fromSnapshot: 'base1' });
        assert.ok(await has(c, 'qs-ls1', 0x23), 'linked clone of a snapshot');
        await c.dr.cloneVolume('qs-src', 'qs-ls2', { mode: 'linked' });
        assert.ok(await has(c, 'qs-ls2', 0x25), 'linked clone of a volume with snapshots');
        assert.equal((await c.dr.listSnapshots('qs-ls2')).length, 0, 'a clone does not inherit snapshots');
      } else {
        await rejectsWith(c.dr.cloneVolume('qs-src', 'qs-ls1', { mode: 'linked', fromSnapshot: 'base1' }), 'InvalidArgument', /reflink/);
        await rejectsWith(c.dr.cloneVolume('qs-src', 'qs-ls2', { mode: 'linked' }), 'Conflict', /snapshot/);
      }
      assert.ok(await has(c, 'qs-src', 0x25), 'source untouched');
      await c.dr.restoreSnapshot('qs-src', 'base1');
      assert.ok(await has(c, 'qs-src', 0x23), 'source snapshots still work after being cloned');
    },
  },
  {
    name: 'deleting a clone source keeps every clone intact',
    async run(c) {
      await c.dr.deleteVolume('qs-src');
      await rejectsWith(c.dr.volumeInfo('qs-src'), 'NotFound');
      await rejectsWith(c.dr.deleteVolume('qs-src'), 'NotFound');
      assert.ok(await has(c, 'qs-l', 0x22));
      assert.ok(await has(c, 'qs-l2', 0x23));
      assert.ok(await has(c, 'qs-f', 0x24));
      assert.ok(await has(c, 'qs-fs1', 0x23));
      for (const v of ['qs-l', 'qs-l2', 'qs-l3', 'qs-f', 'qs-fs1', 'qs-ls1', 'qs-ls2']) await c.dr.deleteVolume(v).catch(() => {});
      assert.deepEqual((await c.dr.listVolumes()).map((v) => v.name), ['qs-a']);
      // Shared bases (frozen qcow2 data) go with the last volume that needs them.
      assert.deepEqual(await readdir(join(c.poolPath, 'bases')), []);
    },
  },
  {
    name: 'resize grows and keeps the data; shrinking is refused with a clear message',
    async run(c) {
      const v = await c.dr.resizeVolume('qs-a', 128 * MiB);
      assert.equal(v.virtualSizeBytes, 128 * MiB);
      assert.ok(await has(c, 'qs-a', 0xab));
      await put(c, 'qs-a', 0x77, 100 * MiB);
      assert.ok(await has(c, 'qs-a', 0x77, 100 * MiB));
      await rejectsWith(c.dr.resizeVolume('qs-a', 64 * MiB), 'InvalidArgument', /shrinking volume "qs-a" from 128MiB to 64MiB is refused/);
      assert.equal((await c.dr.resizeVolume('qs-a', 128 * MiB)).virtualSizeBytes, 128 * MiB);
      await rejectsWith(c.dr.resizeVolume('qs-none', 128 * MiB), 'NotFound');
    },
  },
  {
    name: 'rename moves data and snapshots; an existing name is refused',
    async run(c) {
      await c.dr.renameVolume('qs-a', 'qs-b');
      await rejectsWith(c.dr.volumeInfo('qs-a'), 'NotFound');
      assert.ok(await has(c, 'qs-b', 0xab));
      assert.deepEqual((await c.dr.listSnapshots('qs-b')).map((s) => s.name), ['s1']);
      await c.dr.restoreSnapshot('qs-b', 's1');
      assert.ok(await has(c, 'qs-b', 0xab));
      assert.equal((await c.dr.volumeInfo('qs-b')).virtualSizeBytes, 64 * MiB, 'a restore brings back the size at snapshot time');
      await c.dr.createVolume({ name: 'qs-c', kind: 'block', sizeBytes: MiB });
      await rejectsWith(c.dr.renameVolume('qs-b', 'qs-c'), 'Conflict');
      await rejectsWith(c.dr.renameVolume('qs-b', 'Bad Name'), 'InvalidArgument');
      await c.dr.deleteVolume('qs-c');
    },
  },
];
