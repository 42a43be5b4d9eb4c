import { test } from 'node:test';
import assert from 'node:assert/strict';
import { utimes } from 'node:fs/promises';
import { backupBlock } from './block-backup.js';
import { makeCodec } from './codec.js';
import { garbageCollect } from './gc.js';
import { serializeFixedIndex, type FixedIndex } from './index-format.js';
import { prng } from '../lib/prng.js';
import { BufferBlockReader } from './testing/buffer-reader.js';
import { tempStore, testManifest } from './testing/temp-store.js';
import { verifyDatastore } from './verify.js';
import { WriterRegistry } from './writer-registry.js';
import type { Datastore } from './datastore.js';

const KiB = 1024;
const CS = 64 * KiB;

function disk(seed: number, n = 2 * 1024 * KiB): Buffer {
  const r = prng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE(Math.floor(r() * 0x100000000), i);
  return b;
}

async function commit(ds: Datastore, id: string, index: FixedIndex) {
  const m = testManifest({ id, time: new Date().toISOString(), archives: [{ name: 'root', type: 'fixed', size: index.size, file: 'root.fidx' }] });
  await ds.commitSnapshot(m, [{ name: 'root.fidx', data: serializeFixedIndex(index) }]);
  return m;
}

async function ageAll(ds: Datastore) {
  const old = new Date(Date.now() - 3600_000);
  for await (const d of ds.chunkDigests()) await utimes(ds.chunkPath(d), old, old);
}

test('GC removes only unreferenced old chunks; dry run removes nothing', async () => {
  const { ds, cleanup } = await tempStore();
  try {
    const codec = await makeCodec(null);
    const reg = new WriterRegistry();
    const wa = reg.begin();
    const wb = reg.begin();
    const a = await backupBlock(ds, codec, new BufferBlockReader(disk(1)), { chunkSize: CS, writer: wa });
    const b = await backupBlock(ds, codec, new BufferBlockReader(disk(2)), { chunkSize: CS, writer: wb });
    await ageAll(ds);
    // Not committed yet, but claimed by running writers: nothing goes.
    assert.equal((await garbageCollect(ds, reg, { graceMs: 0 })).removed, 0);
    const ma = await commit(ds, '20261205T100000Z-000a', a.index);
    const mb = await commit(ds, '20261205T110000Z-000b', b.index);
    wa.end();
    wb.end();
    assert.equal((await garbageCollect(ds, reg, { graceMs: 0 })).removed, 0);
    await ds.removeSnapshot(mb.project, mb.instance.uuid, mb.id);
    const dry = await garbageCollect(ds, reg, { graceMs: 0, dryRun: true });
    assert.equal(dry.removed, 32);
    assert.equal((await ds.usage()).chunks, 64);
    // A young chunk survives within the grace.
    const young = b.index.digests[0]!;
    const now = new Date();
    await utimes(ds.chunkPath(young), now, now);
    const rep = await garbageCollect(ds, reg, { graceMs: 60_000 });
    assert.equal(rep.removed, 31);
    assert.equal(rep.chunks, 64);
    assert.equal(rep.kept, 33);
    assert.ok(rep.removedBytes > 31 * CS);
    assert.equal(await ds.hasChunk(young), true);
    const v = await verifyDatastore(ds, codec);
    assert.deepEqual([v.missing, v.corrupt, v.broken], [[], [], []]);
    assert.ok(ma);
  } finally {
    await cleanup();
  }
});

test('a backup running concurrently with GC keeps every chunk its index references', async () => {
  const { ds, cleanup } = await tempStore();
  try {
    const codec = await makeCodec(null);
    const reg = new WriterRegistry();
    // An old backup, pruned: its chunks are garbage, but the new backup of the same disk needs them all.
    const w0 = reg.begin();
    const old = await backupBlock(ds, codec, new BufferBlockReader(disk(3)), { chunkSize: CS, writer: w0 });
    const m = await commit(ds, '20261205T100000Z-0001', old.index);
    w0.end();
    await ds.removeSnapshot(m.project, m.instance.uuid, m.id);
    for (let round = 0; round < 5; round++) {
      await ageAll(ds);
      const w = reg.begin();
      // A slow reader lets GC's sweep interleave with the backup's claims, touches and writes.
      const reader = new BufferBlockReader(disk(3));
      const read = reader.read.bind(reader);
      reader.read = async (o, l) => { await new Promise((r) => setTimeout(r, Math.random() * 3)); return read(o, l); };
      const [res, gc] = await Promise.all([
        backupBlock(ds, codec, reader, { chunkSize: CS, writer: w, concurrency: 2 }),
        new Promise((r) => setTimeout(r, round)).then(() => garbageCollect(ds, reg, { graceMs: 0 })),
      ]);
      const mm = await commit(ds, `20261205T12000${round}Z-0001`, res.index);
      w.end();
      for (const d of res.index.digests) if (d) assert.equal(await ds.hasChunk(d), true, `round ${round}: chunk referenced by the new index was swept (gc removed ${gc.removed})`);
      const v = await verifyDatastore(ds, codec);
      assert.deepEqual([v.missing, v.corrupt], [[], []]);
      await ds.removeSnapshot(mm.project, mm.instance.uuid, mm.id);
    }
  } finally {
    await cleanup();
  }
});

test('a writer that ended while GC ran stays protected until that GC ends', async () => {
  const reg = new WriterRegistry();
  const w = reg.begin();
  await w.claim('a'.repeat(64));
  reg.gcBegin();
  w.end();
  assert.equal(reg.has('a'.repeat(64)), true);
  reg.gcEnd();
  assert.equal(reg.has('a'.repeat(64)), false);
  assert.equal(reg.running, 0);
});
