// qcow2 block volumes in a dir pool.
// Snapshots are qcow2 internal snapshots (qemu-img snapshot), the same kind QMP makes for a
// running VM (blockdev-snapshot-internal-sync, snapshot-save with RAM state), so one list shows both.
// Linked clones are O(1) whatever the size:
// - on a reflink filesystem: a reflink copy of the file (then rolled back to fromSnapshot and
//   stripped of internal snapshots), independent of the source, no backing chain;
// - otherwise the source's current data is frozen: its file is renamed to bases/ID.qcow2
//   (read-only) and the source becomes a fresh overlay of it; the clone is another overlay.
//   A source whose top layer is still empty reuses its base (cloning a template N times adds no
//   layers). Bases are reference-counted by reading the backing names in qcow2 headers, and
//   removed only when no volume or base refers to them: deleting a source never breaks a clone.
//   Internal snapshots would be frozen into the shared base, so without reflinks a linked clone of
//   a volume with snapshots, or from a snapshot, is refused (a full clone works).
import { chmod, link, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { conflict, invalid, notFound } from '../../../lib/errors.js';
import { allocatedBytes, VOLUME_FILE_MODE, copyOwner, exists, publishFile, randomHex, reflinkCopy } from '../fs-util.js';
import { imageBaseName, readImageBase, writeImageBase } from '../image-base.js';
import { inspectSource } from '../inspect.js';
import { listDir } from '../pool-layout.js';
import { readQcow2Header } from '../qcow2-header.js';
import { convertArgv, createArgv, infoArgv, mapArgv, parseInfo, resizeArgv, snapshotArgv, topLayerHoldsData } from '../qemu-img.js';
import { assertNotInUse } from '../storage-errors.js';
import type { CloneOptions, SnapshotInfo, VolumeFormat } from '../types.js';
import type { BlockBackend, BlockContext, BlockStat, ImageRef } from './backend.js';

/** qcow2 files with internal snapshots and O(1) linked clones. */
export class Qcow2Backend implements BlockBackend {
  readonly format = 'qcow2' as const;
  constructor(private readonly c: BlockContext) {}

  file(name: string): string {
    return join(this.c.dirs.volumes, `${name}.qcow2`);
  }

  tmpFile(): string {
    return join(this.c.dirs.tmp, `${randomHex()}.qcow2`);
  }

  async create(tmp: string, sizeBytes: number): Promise<void> {
    await this.c.exec.run(createArgv(tmp, 'qcow2', sizeBytes));
  }

  async stat(name: string): Promise<BlockStat> {
    const h = await readQcow2Header(this.file(name));
    return { virtualSize: h.virtualSize, allocatedBytes: await allocatedBytes(this.file(name)), snapshots: h.snapshots, linked: !!h.backingFile };
  }

  async resize(name: string, sizeBytes: number): Promise<void> {
    await this.c.exec.run(resizeArgv(this.file(name), 'qcow2', sizeBytes));
  }

  async listSnapshots(name: string): Promise<SnapshotInfo[]> {
    const res = await this.c.exec.run(infoArgv(this.file(name), 'qcow2'));
    return parseInfo(res.stdout).snapshots.map((s) => ({
      name: s.name,
      createdAt: new Date(s.dateSec * 1000).toISOString(),
      vmStateBytes: s.vmStateSize,
    }));
  }

  private async requireSnapshot(name: string, snapshot: string): Promise<void> {
    if (!(await this.listSnapshots(name)).some((s) => s.name === snapshot)) throw notFound(`snapshot "${snapshot}" of volume "${name}"`);
  }

  async createSnapshot(name: string, snapshot: string): Promise<SnapshotInfo> {
    if ((await this.listSnapshots(name)).some((s) => s.name === snapshot)) throw conflict(`volume "${name}" already has a snapshot "${snapshot}"`);
    await this.c.exec.run(snapshotArgv('create', snapshot, this.file(name)));
    const made = (await this.listSnapshots(name)).filter((s) => s.name === snapshot).at(-1);
    return made ?? { name: snapshot, createdAt: new Date().toISOString(), vmStateBytes: 0 };
  }

  async restoreSnapshot(name: string, snapshot: string): Promise<void> {
    await this.requireSnapshot(name, snapshot);
    await this.c.exec.run(snapshotArgv('apply', snapshot, this.file(name)));
  }

  async deleteSnapshot(name: string, snapshot: string): Promise<void> {
    await this.requireSnapshot(name, snapshot);
    await this.c.exec.run(snapshotArgv('delete', snapshot, this.file(name)));
  }

  /** Reflink-copy a volume to tmp, roll the copy back to `snapshot` if given, and drop the copy's snapshots. */
  private async reflinkClone(src: string, tmp: string, snapshot?: string): Promise<void> {
    await reflinkCopy(this.c.exec, src, tmp);
    await chmod(tmp, VOLUME_FILE_MODE);
    if (snapshot !== undefined) await this.c.exec.run(snapshotArgv('apply', snapshot, tmp));
    const info = parseInfo((await this.c.exec.run(infoArgv(tmp, 'qcow2'))).stdout);
    // qemu-img snapshot -d takes a name (the first match goes, so duplicate names go one by one).
    for (const s of info.snapshots) await this.c.exec.run(snapshotArgv('delete', s.name, tmp));
  }

  async clone(source: string, tmp: string, opts: CloneOptions): Promise<void> {
    const src = this.file(source);
    const h = await readQcow2Header(src);
    if (opts.fromSnapshot !== undefined) await this.requireSnapshot(source, opts.fromSnapshot);
    if (opts.mode === 'full') {
      if (this.c.reflink && opts.fromSnapshot === undefined && !h.backingFile) return this.reflinkClone(src, tmp);
      await this.c.exec.run(convertArgv({ src, srcFormat: 'qcow2', dst: tmp, dstFormat: 'qcow2', snapshot: opts.fromSnapshot }), { timeoutMs: 6 * 3600_000 });
      return;
    }
    if (this.c.reflink) return this.reflinkClone(src, tmp, opts.fromSnapshot);
    if (opts.fromSnapshot !== undefined) {
      throw invalid(`a linked clone from a qcow2 snapshot needs a filesystem with reflinks (XFS, btrfs); pool "${this.c.pool}" has none: clone with mode full`);
    }
    if (h.snapshots > 0) {
      throw conflict(`volume "${source}" has ${h.snapshots} snapshot(s): a linked clone would freeze them into a shared base on this ` +
        `filesystem without reflinks; clone with mode full, or from a pool on XFS/btrfs`);
    }
    const base = await this.freeze(source);
    await this.overlay(tmp, base, base.endsWith('.raw') ? 'raw' : 'qcow2', h.virtualSize);
  }

  /** Make the source's current data an immutable base (or reuse its base if nothing was written since); returns the base path. */
  private async freeze(name: string): Promise<string> {
    const file = this.file(name);
    await assertNotInUse(this.c.exec, file, 'qcow2', `volume "${name}"`);
    const h = await readQcow2Header(file);
    if (h.backingFile) {
      const base = resolve(dirname(file), h.backingFile);
      const top = await this.c.exec.run(mapArgv(file), { timeoutMs: 600_000 });
      if (dirname(base) === this.c.dirs.bases && !topLayerHoldsData(top.stdout)) return base;
    }
    const owner = await stat(file);
    const base = join(this.c.dirs.bases, `${randomHex()}.qcow2`);
    await rename(file, base);
    try {
      await chmod(base, 0o444);
      const tmp = this.tmpFile();
      try {
        await this.overlay(tmp, base, 'qcow2', h.virtualSize);
        await copyOwner(owner, tmp); // the VM user that owned the volume file owns its new top layer
        await publishFile(tmp, file, `volume "${name}"`);
      } finally {
        await rm(tmp, { force: true });
      }
    } catch (e) {
      await chmod(base, 0o644).catch(() => {});
      await rename(base, file).catch(() => {});
      throw e;
    }
    return base;
  }

  /** Create at tmp an overlay of base (stored relative, so the pool directory may move). */
  private async overlay(tmp: string, base: string, baseFormat: VolumeFormat, sizeBytes: number): Promise<void> {
    const rel = relative(dirname(tmp), base); // .tmp/ and volumes/ are siblings: same relative path
    await this.c.exec.run(createArgv(tmp, 'qcow2', sizeBytes, { file: rel, format: baseFormat }));
  }

  async fromImage(image: ImageRef, tmp: string, sizeBytes: number): Promise<void> {
    const base = await this.imageBase(image);
    if (sizeBytes < base.virtualSize) throw invalid(`volume size ${sizeBytes} is smaller than the image (${base.virtualSize} bytes)`);
    await this.overlay(tmp, base.file, base.format, sizeBytes);
  }

  /** The pool's base for an image: a hard link (O(1)), or a qcow2 copy made once when on another filesystem. */
  private async imageBase(image: ImageRef): Promise<{ file: string; format: VolumeFormat; virtualSize: number }> {
    const d = this.c.dirs;
    const meta = await readImageBase(d, image.key);
    if (meta) {
      const file = join(d.bases, `${imageBaseName(image.key)}.${meta.format}`);
      if (await exists(file)) return { file, format: meta.format, virtualSize: meta.virtualSize };
    }
    const src = await inspectSource(this.c.exec, image.path, image.format);
    let format = image.format;
    let tmp = join(d.tmp, `${randomHex()}.${format}`);
    try {
      await link(src.path, tmp).catch(async (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EXDEV' && e.code !== 'EPERM') throw e;
        format = 'qcow2';
        tmp = join(d.tmp, `${randomHex()}.qcow2`);
        await this.c.exec.run(convertArgv({ src: src.path, srcFormat: image.format, dst: tmp, dstFormat: 'qcow2' }), { timeoutMs: 6 * 3600_000 });
      });
      const file = join(d.bases, `${imageBaseName(image.key)}.${format}`);
      await rename(tmp, file);
      await writeImageBase(d, image.key, { source: image.path, format, virtualSize: src.info.virtualSize, createdAt: new Date().toISOString() });
      return { file, format, virtualSize: src.info.virtualSize };
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async renamed(): Promise<void> {}

  async deleted(): Promise<void> {
    await this.gc();
  }

  async gc(): Promise<number> {
    const d = this.c.dirs;
    const live = new Set<string>();
    const stack: string[] = [];
    const follow = async (file: string) => {
      const h = await readQcow2Header(file).catch(() => null);
      if (h?.backingFile) stack.push(resolve(dirname(file), h.backingFile));
    };
    for (const f of await listDir(d.volumes)) if (f.endsWith('.qcow2')) await follow(join(d.volumes, f));
    while (stack.length > 0) {
      const b = stack.pop()!;
      if (live.has(b)) continue;
      live.add(b);
      if (b.endsWith('.qcow2')) await follow(b);
    }
    let removed = 0;
    const names = await listDir(d.bases);
    for (const f of names) {
      const path = join(d.bases, f);
      if (f.endsWith('.json') || live.has(path)) continue;
      await rm(path, { force: true });
      removed++;
    }
    // A record whose base file is gone (removed above, or never published) goes too.
    for (const f of names.filter((n) => n.endsWith('.json'))) {
      const stem = join(d.bases, basename(f, '.json'));
      if (!live.has(`${stem}.qcow2`) && !live.has(`${stem}.raw`)) await rm(join(d.bases, f), { force: true });
    }
    return removed;
  }
}
