// System test: a datastore on a tiny tmpfs (root) that fills up mid-backup. The backup fails with a clear error,
// leaves no temp file and no snapshot, and the earlier backup still verifies and restores. Mounts nimbo-test-ds-*.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealExec } from '../host/exec.js';
import { backupBlock } from './block-backup.js';
import { restoreBlockToFile } from './block-restore.js';
import { makeCodec } from './codec.js';
import { Datastore } from './datastore.js';
import { serializeFixedIndex } from './index-format.js';
import { BufferBlockReader } from './testing/buffer-reader.js';
import { testManifest } from './testing/temp-store.js';
import { verifyDatastore } from './verify.js';
import { WriterRegistry } from './writer-registry.js';

const skip = process.env.CI === 'true' ? false : process.getuid?.() !== 0 ? 'needs root (mount)' : false;
const MiB = 1024 * 1024;

test('a full datastore disk fails the backup cleanly and keeps earlier backups intact', { skip, timeout: 120_000 }, async () => {
  const exec = new RealExec();
  const root = await mkdtemp(join(tmpdir(), 'nimbo-test-ds-enospc-'));
  const mnt = join(root, 'mnt');
  await mkdir(mnt);
  await exec.run(['mount', '-t', 'tmpfs', '-o', 'size=6m', 'nimbo-test-ds', mnt]);
  try {
    const ds = await Datastore.create(join(mnt, 'store'), { exec });
    const codec = await makeCodec(null);
    const reg = new WriterRegistry();
    const first = randomBytes(2 * MiB);
    const w1 = reg.begin();
    const a = await backupBlock(ds, codec, new BufferBlockReader(first), { chunkSize: MiB, writer: w1 });
    const m = testManifest({ archives: [{ name: 'root', type: 'fixed', size: a.index.size, file: 'root.fidx' }] });
    await ds.commitSnapshot(m, [{ name: 'root.fidx', data: serializeFixedIndex(a.index) }]);
    w1.end();

    const w2 = reg.begin();
    await assert.rejects(
      backupBlock(ds, codec, new BufferBlockReader(randomBytes(16 * MiB)), { chunkSize: MiB, writer: w2 }),
      /no space left on the datastore's filesystem/,
    );
    w2.end();
    assert.deepEqual(await readdir(join(ds.dir, 'tmp')), [], 'no temp file left behind');
    assert.deepEqual((await ds.listSnapshots()).map((s) => s.id), [m.id], 'no partial snapshot');

    const v = await verifyDatastore(ds, codec);
    assert.deepEqual([v.corrupt, v.missing, v.broken], [[], [], []]);
    const out = join(root, 'restored.raw');
    await restoreBlockToFile(ds, codec, a.index, out);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    assert.equal(sha(await readFile(out)), sha(first));
  } finally {
    await exec.run(['umount', mnt], { allowFailure: true });
    await rm(root, { recursive: true, force: true });
  }
});
