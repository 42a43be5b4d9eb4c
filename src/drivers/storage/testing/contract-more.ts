// Contract cases: import/export, images, filesystem volumes, volumes in use, a full pool, pool deletion.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createStorageDriver } from '../index.js';
import { infoArgv, isLockError, parseInfo } from '../qemu-img.js';
import { lockProbeArgv } from '../storage-errors.js';
import { MiB, rejectsWith, type ContractCase, type ContractCtx } from './contract-kit.js';
import { hasPattern, writePattern } from './volume-data.js';

const has = async (c: ContractCtx, name: string, byte: number, off = 0, len = MiB) => hasPattern(c.exec, await c.loc(name), byte, off, len);
const sha = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

/** Write a raw file of `size` bytes: zeros, with `byte` in [0, 1 MiB) and [4 MiB, 5 MiB). */
async function rawFile(path: string, size: number, byte: number): Promise<void> {
  await writeFile(path, '');
  const fh = await open(path, 'r+');
  try {
    await fh.truncate(size);
    await fh.write(Buffer.alloc(MiB, byte), 0, MiB, 0);
    if (size >= 5 * MiB) await fh.write(Buffer.alloc(MiB, byte), 0, MiB, 4 * MiB);
  } finally {
    await fh.close();
  }
}

/** Write `size` bytes of one non-zero byte (nothing sparse), 8 MiB at a time. */
async function denseFile(path: string, size: number): Promise<void> {
  const fh = await open(path, 'w');
  try {
    const chunk = Buffer.alloc(8 * MiB, 0xab);
    for (let o = 0; o < size; o += chunk.length) await fh.write(chunk, 0, Math.min(chunk.length, size - o), o);
  } finally {
    await fh.close();
  }
}

/** Pool entries other volumes could hide in: what a failed operation must not leave. */
async function leftovers(pool: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of ['.tmp', 'volumes']) for (const f of await readdir(join(pool, d)).catch(() => [])) out.push(`${d}/${f}`);
  return out;
}

/** Import/export, images, filesystem volumes, in-use, out-of-space and pool deletion cases. */
export const moreCases: ContractCase[] = [
  {
    name: 'import and export round-trip raw and qcow2 with progress; bad sources are refused',
    async run(c) {
      const src = join(c.outside, 'qs-src.raw');
      await rawFile(src, 8 * MiB, 0xaa);
      const seen: number[] = [];
      const v = await c.dr.importVolume(src, 'raw', 'qs-imp', { progress: (p) => seen.push(p) });
      assert.equal(v.virtualSizeBytes, 8 * MiB);
      assert.equal(seen.at(-1), 100);
      assert.ok(seen.every((p, i) => i === 0 || p >= seen[i - 1]!), `progress only grows: ${seen.join(',')}`);
      assert.ok((await has(c, 'qs-imp', 0xaa)) && (await has(c, 'qs-imp', 0xaa, 4 * MiB)) && (await has(c, 'qs-imp', 0, 2 * MiB)));
      const q = join(c.outside, 'qs-exp.qcow2');
      await c.dr.exportVolume('qs-imp', q, 'qcow2');
      assert.equal(parseInfo((await c.exec.run(infoArgv(q, 'qcow2'))).stdout).format, 'qcow2');
      await c.dr.importVolume(q, 'qcow2', 'qs-imp2');
      const back = join(c.outside, 'qs-back.raw');
      await c.dr.exportVolume('qs-imp2', back, 'raw');
      assert.equal(await sha(back), await sha(src), 'raw -> volume -> qcow2 -> volume -> raw keeps every byte');
      await rejectsWith(c.dr.exportVolume('qs-imp2', back, 'raw'), 'Conflict', /already exists/);
      await rejectsWith(c.dr.importVolume(q, 'raw', 'qs-imp3'), 'InvalidArgument', /qcow2 image, not raw/);
      await rejectsWith(c.dr.importVolume(src, 'raw', 'qs-imp'), 'Conflict');
      await rejectsWith(c.dr.importVolume(src, 'raw', 'qs-cancel', { signal: AbortSignal.abort() }), 'Cancelled');
      await rejectsWith(c.dr.volumeInfo('qs-cancel'), 'NotFound');
      await rejectsWith(c.dr.importVolume(join(c.outside, 'missing.raw'), 'raw', 'qs-imp3'), 'InvalidArgument', /does not exist/);
      const overlay = join(c.outside, 'qs-overlay.qcow2');
      await c.exec.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', q, overlay]);
      await rejectsWith(c.dr.importVolume(overlay, 'qcow2', 'qs-imp3'), 'InvalidArgument', /backing file/);
      assert.deepEqual(await readdir(join(c.poolPath, '.tmp')), []);
      for (const n of ['qs-imp', 'qs-imp2']) await c.dr.deleteVolume(n);
    },
  },
  {
    name: 'cloneFromImage makes a sized disk over an image that may then be deleted',
    async run(c) {
      const img = join(c.outside, 'qs-image.qcow2');
      await c.exec.run(['qemu-img', 'create', '-q', '-f', 'qcow2', img, String(32 * MiB)]);
      await writePattern(c.exec, { type: 'file', path: img, format: 'qcow2' }, 0x42, 0, MiB);
      const before = await sha(img);
      const v = await c.dr.cloneFromImage(img, 'qcow2', 'qs-vm1', 256 * MiB);
      assert.equal(v.virtualSizeBytes, 256 * MiB);
      assert.ok(await has(c, 'qs-vm1', 0x42));
      await writePattern(c.exec, await c.loc('qs-vm1'), 0x43, 0, MiB);
      assert.equal(await sha(img), before, 'the image is never written');
      const t0 = performance.now();
      await c.dr.cloneFromImage(img, 'qcow2', 'qs-vm2', 256 * MiB);
      const ms = performance.now() - t0;
      assert.ok(await has(c, 'qs-vm2', 0x42), `second disk from the image (${ms.toFixed(0)} ms)`);
      await rejectsWith(c.dr.cloneFromImage(img, 'qcow2', 'qs-vm3', 16 * MiB), 'InvalidArgument', /smaller than the image/);
      await rejectsWith(c.dr.cloneFromImage(img, 'qcow2', 'qs-vm1', 256 * MiB), 'Conflict');
      await rm(img);
      assert.ok((await has(c, 'qs-vm1', 0x43)) && (await has(c, 'qs-vm2', 0x42)), 'disks survive their image');
      const raw = join(c.outside, 'qs-image.raw');
      await rawFile(raw, 16 * MiB, 0x44);
      await c.dr.cloneFromImage(raw, 'raw', 'qs-vm3', 64 * MiB);
      assert.ok(await has(c, 'qs-vm3', 0x44));
      await rejectsWith(c.dr.cloneFromImage(join(c.outside, 'none.qcow2'), 'qcow2', 'qs-vm4', 64 * MiB), 'InvalidArgument');
      for (const n of ['qs-vm1', 'qs-vm2', 'qs-vm3']) await c.dr.deleteVolume(n);
    },
  },
  {
    name: 'filesystem volumes: create, snapshot/list/restore/delete (mounts inside not copied, busy while mounted), clone, quota, resize, rename',
    async run(c) {
      assert.ok(c.caps.filesystemVolumes);
      const v = await c.dr.createVolume({ name: 'qs-fs', kind: 'filesystem', sizeBytes: 0 });
      assert.equal(v.kind, 'filesystem');
      const loc = await c.loc('qs-fs');
      assert.equal(loc.type, 'directory');
      await writeFile(join(loc.path, 'a.txt'), 'one');
      assert.ok(c.caps.filesystemSnapshots, 'every driver snapshots filesystem volumes');
      await c.dr.createSnapshot('qs-fs', 'f1');
      await rejectsWith(c.dr.createSnapshot('qs-fs', 'f1'), 'Conflict', /already has a snapshot/);
      await rejectsWith(c.dr.createSnapshot('qs-fs', 'Bad_Snap'), 'InvalidArgument');
      await writeFile(join(loc.path, 'a.txt'), 'two');
      await writeFile(join(loc.path, 'b.txt'), 'later');
      await c.dr.createSnapshot('qs-fs', 'f2');
      assert.deepEqual((await c.dr.listSnapshots('qs-fs')).map((s) => s.name), ['f1', 'f2']);
      assert.equal((await c.dr.volumeInfo('qs-fs')).snapshots, 2);
      await c.dr.restoreSnapshot('qs-fs', 'f1');
      assert.equal(await readFile(join((await c.loc('qs-fs')).path, 'a.txt'), 'utf8'), 'one');
      assert.equal(await readFile(join((await c.loc('qs-fs')).path, 'b.txt'), 'utf8').catch(() => null), null, 'restore drops later files');
      assert.deepEqual((await c.dr.listSnapshots('qs-fs')).map((s) => s.name), ['f1', 'f2'], 'restore keeps every snapshot');
      await rejectsWith(c.dr.restoreSnapshot('qs-fs', 'nope'), 'NotFound');
      // A mount inside the volume (a container's overlay rootfs) is never copied, and makes the volume busy.
      const mnt = join((await c.loc('qs-fs')).path, 'rootfs');
      await mkdir(mnt);
      await c.exec.run(['mount', '-t', 'tmpfs', 'qs-tmpfs', mnt]);
      try {
        await writeFile(join(mnt, 'inside.txt'), 'mounted');
        await c.dr.createSnapshot('qs-fs', 'f3');
        await rejectsWith(c.dr.restoreSnapshot('qs-fs', 'f1'), 'Conflict', /in use/);
        await rejectsWith(c.dr.deleteVolume('qs-fs'), 'Conflict', /in use/);
      } finally {
        await c.exec.run(['umount', mnt]);
      }
      await c.dr.restoreSnapshot('qs-fs', 'f3');
      const after3 = (await c.loc('qs-fs')).path;
      assert.deepEqual(await readdir(join(after3, 'rootfs')), [], 'only the mount point was snapshotted');
      await c.dr.deleteSnapshot('qs-fs', 'f3');
      await rejectsWith(c.dr.deleteSnapshot('qs-fs', 'f3'), 'NotFound');
      // A full clone from a snapshot has the snapshot's data.
      await c.dr.cloneVolume('qs-fs', 'qs-fs3', { mode: 'full', fromSnapshot: 'f2' });
      assert.equal(await readFile(join((await c.loc('qs-fs3')).path, 'b.txt'), 'utf8'), 'later');
      await c.dr.deleteVolume('qs-fs3');
      if (c.caps.filesystemLinkedClones) {
        await c.dr.cloneVolume('qs-fs', 'qs-fs2', { mode: 'linked' });
      } else {
        await rejectsWith(c.dr.cloneVolume('qs-fs', 'qs-fs2', { mode: 'linked' }), 'InvalidArgument');
        await c.dr.cloneVolume('qs-fs', 'qs-fs2', { mode: 'full' });
      }
      const l2 = await c.loc('qs-fs2');
      assert.equal(await readFile(join(l2.path, 'a.txt'), 'utf8'), 'one');
      await writeFile(join(l2.path, 'a.txt'), 'three');
      assert.equal(await readFile(join((await c.loc('qs-fs')).path, 'a.txt'), 'utf8'), 'one', 'clone independent');
      const q = await c.dr.createVolume({ name: 'qs-fsq', kind: 'filesystem', sizeBytes: 8 * MiB });
      assert.equal(q.virtualSizeBytes, 8 * MiB);
      const big = writeFile(join((await c.loc('qs-fsq')).path, 'big'), Buffer.alloc(24 * MiB, 1));
      if (c.caps.quotas) await assert.rejects(big, /EDQUOT|quota|error -122/i); // Node names errno 122 (EDQUOT) 'Unknown system error -122'
      else await big;
      await rejectsWith(c.dr.resizeVolume('qs-fsq', 4 * MiB), 'InvalidArgument', /shrinking/);
      assert.equal((await c.dr.resizeVolume('qs-fsq', 64 * MiB)).virtualSizeBytes, 64 * MiB);
      await c.dr.renameVolume('qs-fsq', 'qs-fsr');
      assert.equal((await c.dr.volumeInfo('qs-fsr')).virtualSizeBytes, 64 * MiB);
      for (const n of ['qs-fs', 'qs-fs2', 'qs-fsr']) await c.dr.deleteVolume(n);
      assert.deepEqual((await readdir(join(c.poolPath, 'snapshots'))).filter((f) => f.startsWith('qs-fs')), [], 'snapshots go with their volume');
    },
  },
  {
    name: 'a block volume in use by QEMU (image lock) is refused by delete, rename and restore',
    async run(c) {
      await c.dr.createVolume({ name: 'qs-busy', kind: 'block', sizeBytes: 16 * MiB });
      await c.dr.createSnapshot('qs-busy', 'b1');
      const loc = await c.loc('qs-busy');
      const stop = new AbortController();
      // A stopped (-S) TCG machine with the volume on a virtio disk holds the same locks as a running VM.
      const qemu = c.exec.run(['qemu-system-x86_64', '-machine', 'pc', '-accel', 'tcg', '-S', '-nodefaults', '-display', 'none',
        '-blockdev', `driver=${loc.format},node-name=d0,file.driver=file,file.filename=${loc.path}`, '-device', 'virtio-blk-pci,drive=d0'],
      { signal: stop.signal, allowFailure: true, timeoutMs: 120_000 }).catch(() => null);
      try {
        let locked = false;
        for (let i = 0; i < 100 && !locked; i++) {
          const r = await c.exec.run(lockProbeArgv(loc.path, loc.format!), { allowFailure: true });
          locked = isLockError(r.stderr);
          if (!locked) await new Promise((res) => setTimeout(res, 100));
        }
        assert.ok(locked, 'QEMU took the image lock');
        await rejectsWith(c.dr.deleteVolume('qs-busy'), 'Conflict', /in use/);
        await rejectsWith(c.dr.renameVolume('qs-busy', 'qs-busy2'), 'Conflict', /in use/);
        await rejectsWith(c.dr.restoreSnapshot('qs-busy', 'b1'), 'Conflict', /in use/);
        if (c.caps.liveSnapshots) await c.dr.createSnapshot('qs-busy', 'live');
        else await rejectsWith(c.dr.createSnapshot('qs-busy', 'live'), 'Conflict', /in use/);
      } finally {
        stop.abort();
        await qemu;
      }
      // The kernel drops the lock when the last of QEMU's threads is gone, which can lag its exit a little.
      for (let i = 0; ; i++) {
        try {
          await c.dr.deleteVolume('qs-busy');
          break;
        } catch (e) {
          if (i >= 100 || !(e instanceof Error && /in use/.test(e.message))) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
  },
  {
    name: 'a pool that runs out of space fails the operation cleanly and keeps nothing',
    async run(c) {
      const small = await c.target.scratch('small');
      try {
        const path = join(small.dir, 'pool');
        const dr = createStorageDriver({ name: 'qs-small', driver: c.target.driver, path, options: c.target.options }, { exec: c.exec });
        await dr.initPool();
        const free = (await dr.poolUsage()).availableBytes;
        const src = join(c.outside, 'qs-toobig.raw');
        await denseFile(src, Math.ceil((free + 48 * MiB) / MiB) * MiB);
        const e = await rejectsWith(dr.importVolume(src, 'raw', 'qs-big'), 'HostCommandFailed', /ran out of space/);
        assert.ok(JSON.stringify(e.detail).includes('No space left'), 'the host command stderr is kept');
        await rm(src);
        assert.deepEqual(await dr.listVolumes(), []);
        assert.deepEqual(await leftovers(path), []);
        await dr.createVolume({ name: 'qs-after', kind: 'block', sizeBytes: 8 * MiB });
        await dr.deleteVolume('qs-after');
        await dr.deletePool();
      } finally {
        await small.cleanup();
      }
    },
  },
  {
    name: 'deletePool is refused while volumes remain and leaves nothing behind once empty',
    async run(c) {
      assert.ok((await c.dr.listVolumes()).length > 0);
      await rejectsWith(c.dr.deletePool(), 'Conflict', /still holds/);
      for (const v of await c.dr.listVolumes()) await c.dr.deleteVolume(v.name);
      await c.dr.deletePool();
      await assert.rejects(readdir(c.poolPath), /ENOENT/);
      await rejectsWith(c.dr.listVolumes(), 'NotFound');
    },
  },
];
