// Raw sparse block volumes in a dir pool on a reflink filesystem (XFS with reflink=1, btrfs).
// Snapshots are read-only reflink copies in snapshots/NAME/SNAP.raw; restore reflinks a snapshot
// back over the volume (an atomic rename); clones, linked or full, are reflink copies: separate
// files that share blocks until either is written, so no clone ever depends on its source.
// A reflink copy of a file a running VM writes is crash-consistent (FICLONE flushes and locks
// the source), so snapshots and clones may be taken live.
import { chmod, link, readdir, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { conflict, invalid, notFound } from '../../../lib/errors.js';
import { copyOwner, VOLUME_FILE_MODE, ensureDir, exists, publishFile, randomHex, reflinkCopy, sparseCopy } from '../fs-util.js';
import { imageBaseName, imageBaseStale, readImageBase, writeImageBase, type ImageBaseMeta } from '../image-base.js';
import { inspectSource } from '../inspect.js';
import { listDir } from '../pool-layout.js';
import { convertArgv } from '../qemu-img.js';
import { assertNotInUse } from '../storage-errors.js';
import type { CloneOptions, SnapshotInfo } from '../types.js';
import type { BlockBackend, BlockContext, BlockStat, ImageRef } from './backend.js';

/** Raw files, snapshots and clones by reflink copy. */
export class RawBackend implements BlockBackend {
  readonly format = 'raw' as const;
  constructor(private readonly c: BlockContext) {}

  file(name: string): string {
    return join(this.c.dirs.volumes, `${name}.raw`);
  }

  tmpFile(): string {
    return join(this.c.dirs.tmp, `${randomHex()}.raw`);
  }

  private snapDir(name: string): string {
    return join(this.c.dirs.snapshots, name);
  }

  private snapFile(name: string, snapshot: string): string {
    return join(this.snapDir(name), `${snapshot}.raw`);
  }

  async create(tmp: string, sizeBytes: number): Promise<void> {
    await writeFile(tmp, '', { mode: VOLUME_FILE_MODE });
    await truncate(tmp, sizeBytes); // sparse: no block is allocated
  }

  async stat(name: string): Promise<BlockStat> {
    const st = await stat(this.file(name));
    const snaps = (await listDir(this.snapDir(name))).filter((f) => f.endsWith('.raw')).length;
    return { virtualSize: st.size, allocatedBytes: st.blocks * 512, snapshots: snaps, linked: false };
  }

  async resize(name: string, sizeBytes: number): Promise<void> {
    await assertNotInUse(this.c.exec, this.file(name), 'raw', `volume "${name}"`);
    await truncate(this.file(name), sizeBytes);
  }

  async listSnapshots(name: string): Promise<SnapshotInfo[]> {
    const found: { ms: number; snap: SnapshotInfo }[] = [];
    for (const f of await listDir(this.snapDir(name))) {
      if (!f.endsWith('.raw')) continue;
      const st = await stat(join(this.snapDir(name), f));
      found.push({ ms: st.mtimeMs, snap: { name: f.slice(0, -4), createdAt: st.mtime.toISOString(), vmStateBytes: 0 } });
    }
    return found.sort((a, b) => a.ms - b.ms).map((x) => x.snap);
  }

  async createSnapshot(name: string, snapshot: string): Promise<SnapshotInfo> {
    const target = this.snapFile(name, snapshot);
    if (await exists(target)) throw conflict(`volume "${name}" already has a snapshot "${snapshot}"`);
    await ensureDir(this.snapDir(name), 0o700); // QEMU never opens a snapshot: root only
    const tmp = this.tmpFile();
    try {
      await reflinkCopy(this.c.exec, this.file(name), tmp);
      await chmod(tmp, 0o400);
      await publishFile(tmp, target, `snapshot "${snapshot}" of volume "${name}"`);
    } finally {
      await rm(tmp, { force: true });
    }
    const st = await stat(target);
    return { name: snapshot, createdAt: st.mtime.toISOString(), vmStateBytes: 0 };
  }

  private async requireSnapshot(name: string, snapshot: string): Promise<string> {
    const f = this.snapFile(name, snapshot);
    if (!(await exists(f))) throw notFound(`snapshot "${snapshot}" of volume "${name}"`);
    return f;
  }

  async restoreSnapshot(name: string, snapshot: string): Promise<void> {
    const snap = await this.requireSnapshot(name, snapshot);
    await assertNotInUse(this.c.exec, this.file(name), 'raw', `volume "${name}"`);
    const owner = await stat(this.file(name));
    const tmp = this.tmpFile();
    try {
      await reflinkCopy(this.c.exec, snap, tmp);
      await copyOwner(owner, tmp);
      await rename(tmp, this.file(name)); // atomic: the volume is either all old or all restored
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async deleteSnapshot(name: string, snapshot: string): Promise<void> {
    await rm(await this.requireSnapshot(name, snapshot));
  }

  async clone(source: string, tmp: string, opts: CloneOptions): Promise<void> {
    const src = opts.fromSnapshot === undefined ? this.file(source) : await this.requireSnapshot(source, opts.fromSnapshot);
    await reflinkCopy(this.c.exec, src, tmp);
    await chmod(tmp, VOLUME_FILE_MODE);
  }

  async fromImage(image: ImageRef, tmp: string, sizeBytes: number): Promise<void> {
    const base = await this.imageBase(image);
    if (sizeBytes < base.virtualSize) throw invalid(`volume size ${sizeBytes} is smaller than the image (${base.virtualSize} bytes)`);
    await reflinkCopy(this.c.exec, base.file, tmp);
    await chmod(tmp, VOLUME_FILE_MODE);
    await truncate(tmp, sizeBytes);
  }

  /** The pool's raw base of an image: a hard link of a raw image, else a raw copy made once. */
  private async imageBase(image: ImageRef): Promise<{ file: string; virtualSize: number }> {
    const d = this.c.dirs;
    const file = join(d.bases, `${imageBaseName(image.key)}.raw`);
    const meta = await readImageBase(d, image.key);
    if (meta && (await exists(file))) return { file, virtualSize: meta.virtualSize };
    const src = await inspectSource(this.c.exec, image.path, image.format);
    const tmp = this.tmpFile();
    try {
      if (image.format === 'raw') {
        await link(src.path, tmp).catch(async (e: NodeJS.ErrnoException) => {
          if (e.code !== 'EXDEV' && e.code !== 'EPERM') throw e;
          await sparseCopy(this.c.exec, src.path, tmp);
        });
      } else {
        await this.c.exec.run(convertArgv({ src: src.path, srcFormat: 'qcow2', dst: tmp, dstFormat: 'raw' }), { timeoutMs: 6 * 3600_000 });
      }
      await rename(tmp, file);
    } finally {
      await rm(tmp, { force: true });
    }
    const rec: ImageBaseMeta = { source: image.path, format: 'raw', virtualSize: src.info.virtualSize, createdAt: new Date().toISOString() };
    await writeImageBase(d, image.key, rec);
    return { file, virtualSize: rec.virtualSize };
  }

  async renamed(from: string, to: string): Promise<void> {
    if (await exists(this.snapDir(from))) await rename(this.snapDir(from), this.snapDir(to));
  }

  async deleted(name: string): Promise<void> {
    await rm(this.snapDir(name), { recursive: true, force: true });
    await this.gc();
  }

  /** Image bases are plain reflink sources (no clone depends on them): drop those whose image changed or is gone. */
  async gc(all = false): Promise<number> {
    const d = this.c.dirs;
    let removed = 0;
    for (const f of await readdir(d.bases).catch(() => [] as string[])) {
      if (!f.endsWith('.json')) continue;
      const key = f.slice(4, -5); // img-KEY.json
      const meta = await readImageBase(d, key);
      if (all || !meta || (await imageBaseStale(key, meta))) {
        await rm(join(d.bases, `${imageBaseName(key)}.raw`), { force: true });
        await rm(join(d.bases, f), { force: true });
        removed++;
      }
    }
    return removed;
  }
}
