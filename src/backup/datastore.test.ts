import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeCodec } from './codec.js';
import { Datastore, MARKER, newBackupId } from './datastore.js';
import { newKey, wrapKey } from './keyfile.js';
import { serializeFixedIndex } from './index-format.js';
import { SyncRecorder, tempStore, testManifest } from './testing/temp-store.js';

test('backup ids sort by time and are unique', () => {
  const a = newBackupId(new Date('2026-12-05T14:15:00.123Z'));
  assert.match(a, /^20261205T141500Z-[0-9a-f]{4}$/);
  assert.ok(newBackupId(new Date('2026-12-05T14:15:01Z')) > a);
  assert.equal(new Set(Array.from({ length: 50 }, () => newBackupId())).size > 40, true);
});

test('create refuses a non-empty dir; open validates the marker and clears crash leftovers', async () => {
  const { ds, root, cleanup } = await tempStore();
  try {
    const m = JSON.parse(await readFile(join(ds.dir, MARKER), 'utf8'));
    assert.equal(m.format, 1);
    assert.equal(m.encryption, null);
    assert.equal(m.id, ds.id);
    await assert.rejects(Datastore.create(ds.dir), /not empty/);
    await assert.rejects(Datastore.open(root), /no nimbo-datastore.json/);
    const old = join(ds.dir, 'tmp', 'chunk-leftover');
    await writeFile(old, 'x');
    await utimes(old, new Date(2020, 1, 1), new Date(2020, 1, 1));
    await writeFile(join(ds.dir, 'tmp', 'fresh'), 'y');
    const again = await Datastore.open(ds.dir);
    assert.equal(again.id, ds.id);
    assert.deepEqual(await readdir(join(ds.dir, 'tmp')), ['fresh'], 'only the leftover of an earlier process is removed');
    await writeFile(join(root, 'bad'), 'x');
    await mkdir(join(root, 'bad2'));
    await writeFile(join(root, 'bad2', MARKER), '{"format":2}');
    await assert.rejects(Datastore.open(join(root, 'bad2')), /not a format-1 datastore marker/);
  } finally {
    await cleanup();
  }
});

test('an encrypted store records the fingerprint and wrapped key', async () => {
  const k = newKey();
  const { ds, cleanup } = await tempStore({ wrappedKey: await wrapKey(k, 'pw') });
  try {
    assert.equal(ds.encryption?.fingerprint, k.fingerprint);
    assert.equal((await Datastore.open(ds.dir)).encryption?.wrappedKey?.fingerprint, k.fingerprint);
  } finally {
    await cleanup();
  }
});

test('chunks: atomic insert, an existing chunk is only touched, digests are listed', async () => {
  const { ds, cleanup } = await tempStore();
  try {
    const c = await makeCodec(null);
    const plain = Buffer.from('hello chunk');
    const d = c.digest(plain);
    assert.equal(await ds.hasChunk(d), false);
    assert.equal(await ds.insertChunk(d, await c.encode(plain)), true);
    assert.equal(await ds.hasChunk(d), true);
    const p = ds.chunkPath(d);
    assert.equal(p, join(ds.dir, 'chunks', d.slice(0, 2), d));
    await utimes(p, new Date(2020, 1, 1), new Date(2020, 1, 1));
    assert.equal(await ds.insertChunk(d, Buffer.from('other')), false);
    assert.ok((await stat(p)).mtimeMs > Date.now() - 60_000, 'touched');
    assert.ok((await c.decode(await ds.readChunk(d))).equals(plain), 'not overwritten');
    assert.deepEqual(await readdir(join(ds.dir, 'tmp')), []);
    const all: string[] = [];
    for await (const x of ds.chunkDigests()) all.push(x);
    assert.deepEqual(all, [d]);
    assert.equal((await ds.usage()).chunks, 1);
    await assert.rejects(ds.readChunk('0'.repeat(64)), /missing/);
    assert.throws(() => ds.chunkPath('../etc'), /bad chunk digest/);
  } finally {
    await cleanup();
  }
});

test('commitSnapshot syncs the chunks before the snapshot appears, then lists, finds and removes it', async () => {
  let seenAtSync: boolean | null = null;
  const m = testManifest({ archives: [{ name: 'root', type: 'fixed', size: 10, file: 'root.fidx' }] });
  const dirOf = (ds: Datastore) => ds.snapshotDir(m.project, m.instance.uuid, m.id);
  let store: Datastore | null = null;
  const exec = new SyncRecorder(async () => {
    seenAtSync = await stat(dirOf(store!)).then(() => true, () => false);
  });
  const { ds, cleanup } = await tempStore({ exec });
  store = ds;
  try {
    const idx = serializeFixedIndex({ chunkSize: 4, size: 10, digests: [null, null, null] });
    await assert.rejects(ds.commitSnapshot(m, []), /index file root.fidx not given/);
    await assert.rejects(ds.commitSnapshot({ ...m, project: '../x' }, []), /not a valid name/);
    await ds.commitSnapshot(m, [{ name: 'root.fidx', data: idx }]);
    assert.deepEqual(exec.calls, [['sync', '-f', ds.dir]]);
    assert.equal(seenAtSync, false, 'the snapshot dir did not exist while chunks were synced');
    assert.deepEqual((await readdir(dirOf(ds))).sort(), ['manifest.json', 'root.fidx']);
    await assert.rejects(ds.commitSnapshot(m, [{ name: 'root.fidx', data: idx }]), /already exists/);
    const m2 = testManifest({ id: '20261205T151500Z-0002', time: '2026-12-05T15:15:00.000Z', project: 'p2' });
    await ds.commitSnapshot(m2, []);
    assert.deepEqual((await ds.listSnapshots()).map((x) => x.id), [m.id, m2.id]);
    assert.deepEqual((await ds.listSnapshots({ project: 'p2' })).map((x) => x.id), [m2.id]);
    assert.equal((await ds.findSnapshot(m2.id))?.project, 'p2');
    assert.equal(await ds.findSnapshot('20991205T151500Z-0002'), null);
    assert.deepEqual(await ds.readArchiveIndex(m, 'root'), { chunkSize: 4, size: 10, digests: [null, null, null] });
    assert.equal(await ds.readVerifyState(m.project, m.instance.uuid, m.id), null);
    await ds.writeVerifyState(m.project, m.instance.uuid, m.id, { time: 'now', ok: true });
    assert.deepEqual(await ds.readVerifyState(m.project, m.instance.uuid, m.id), { time: 'now', ok: true });
    await ds.removeSnapshot(m.project, m.instance.uuid, m.id);
    assert.deepEqual((await ds.listSnapshots()).map((x) => x.id), [m2.id]);
    await assert.rejects(ds.removeSnapshot(m.project, m.instance.uuid, m.id), /not found/);
    assert.deepEqual(await readdir(join(ds.dir, 'tmp')), []);
    await writeFile(join(ds.snapshotDir(m2.project, m2.instance.uuid, m2.id), 'manifest.json'), '{');
    await assert.rejects(ds.listSnapshots(), /not valid JSON/);
  } finally {
    await cleanup();
  }
});

test('a full disk is named clearly in write errors', async () => {
  const { writeError } = await import('./fs-durable.js');
  const e = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
  assert.match(writeError(e, '/d', 'chunk x').message, /no space left on the datastore's filesystem \(\/d\) while writing chunk x; earlier backups are intact/);
});
