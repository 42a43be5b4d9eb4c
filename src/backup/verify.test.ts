import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { backupBlock } from './block-backup.js';
import { makeCodec } from './codec.js';
import { serializeFixedIndex } from './index-format.js';
import { newKey } from './keyfile.js';
import { prng } from '../lib/prng.js';
import { BufferBlockReader } from './testing/buffer-reader.js';
import { tempStore, testManifest } from './testing/temp-store.js';
import { verifyDatastore } from './verify.js';
import { WriterRegistry } from './writer-registry.js';

const CS = 64 * 1024;

function disk(seed: number): Buffer {
  const r = prng(seed);
  const b = Buffer.alloc(16 * CS);
  for (let i = 0; i < b.length; i++) b[i] = r() < 0.3 ? Math.floor(r() * 256) : 65;
  return b;
}

for (const keyed of [false, true]) {
  test(`flipping one byte in one chunk is reported as corrupt with the backups it breaks (${keyed ? 'encrypted' : 'plain'})`, async () => {
    const { ds, cleanup } = await tempStore();
    try {
      const codec = await makeCodec(keyed ? newKey() : null);
      const reg = new WriterRegistry();
      const shared = disk(1);
      const other = Buffer.from(shared);
      other.fill(7, 10 * CS); // chunks 10.. differ, 0..9 are shared
      const ids = ['20261205T100000Z-0001', '20261205T110000Z-0002', '20261205T120000Z-0003'];
      const srcs = [shared, other, disk(2)];
      for (let i = 0; i < 3; i++) {
        const { index } = await backupBlock(ds, codec, new BufferBlockReader(srcs[i]!), { chunkSize: CS, writer: reg.begin() });
        const m = testManifest({
          id: ids[i]!, time: `2026-12-05T1${i}:00:00.000Z`, instance: { name: `vm${i}`, uuid: `u${i}`, type: 'virtual-machine' },
          archives: [{ name: 'root', type: 'fixed', size: index.size, file: 'root.fidx' }],
        });
        await ds.commitSnapshot(m, [{ name: 'root.fidx', data: serializeFixedIndex(index) }]);
      }
      const clean = await verifyDatastore(ds, codec);
      assert.deepEqual([clean.corrupt, clean.missing, clean.broken], [[], [], []]);
      assert.equal(clean.snapshots, 3);
      assert.deepEqual(JSON.parse(await readFile(ds.snapshotDir('default', 'u0', ids[0]!) + '/verify.json', 'utf8')).ok, true);

      const m0 = await ds.readManifest('default', 'u0', ids[0]!);
      const ix = await ds.readArchiveIndex(m0, 'root');
      const victim = (ix as { digests: string[] }).digests[3]!;
      const blob = await readFile(ds.chunkPath(victim));
      blob[Math.floor(blob.length / 2)]! ^= 0x01;
      await writeFile(ds.chunkPath(victim), blob);
      const gone = (ix as { digests: string[] }).digests[12]!;
      await rm(ds.chunkPath(gone));

      const seen: number[] = [];
      const v = await verifyDatastore(ds, codec, { onProgress: (d) => seen.push(d) });
      assert.deepEqual(v.corrupt, [victim]);
      assert.deepEqual(v.missing, [gone]);
      assert.deepEqual(v.broken, [
        { id: ids[0], project: 'default', instance: 'vm0', archives: ['root'] },
        { id: ids[1], project: 'default', instance: 'vm1', archives: ['root'] },
      ]);
      assert.equal(seen.length, v.chunksChecked);
      assert.equal((await ds.readVerifyState('default', 'u0', ids[0]!))?.ok, false);
      assert.equal((await ds.readVerifyState('default', 'u2', ids[2]!))?.ok, true);
      const only = await verifyDatastore(ds, codec, { snapshots: [ids[2]!] });
      assert.deepEqual([only.snapshots, only.broken], [1, []]);
    } finally {
      await cleanup();
    }
  });
}
