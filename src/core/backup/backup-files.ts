// Reading inside a backup without restoring an instance: export of a whole disk (raw or qcow2) or of a
// container's tree (tar), and single files: a container's from the catalog and a byte range of the tree
// archive (only the chunks holding it are read); a VM disk's through a read-only loop mount of the disk
// restored into a sparse file (no kernel NBD needed), kept for a few minutes for the next request.
import { createReadStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { blockStream, restoreBlockToFile } from '../../backup/block-restore.js';
import { dynamicStream } from '../../backup/dynamic-backup.js';
import { parseDynamicIndex, parseFixedIndex } from '../../backup/index-format.js';
import { openDiskFiles, type DiskFiles } from '../../backup/disk-files.js';
import type { BackupManifest } from '../../backup/manifest.js';
import { catalogFile, catalogList } from '../../backup/tar-catalog.js';
import { conflict, invalid, notFound } from '../../lib/errors.js';
import type { BaseDeps } from '../deps.js';
import type { BackupService } from './backup-service.js';
import type { OpenStore } from './backup-stores.js';
import { CATALOG_ARCHIVE, diskArchive, TREE_ARCHIVE, readIndex } from './backup-run.js';

/** A stream to send, with what the response says about it. */
export interface Download {
  stream: Readable;
  filename: string;
  size?: number;
}

/** One entry of a directory inside a backup. */
export interface BackupFileEntry {
  name: string;
  type: string;
  size: number;
  mode?: number;
  mtime?: string;
}

/** Most entries one listing returns. */
export const MAX_LIST = 10_000;
const KEEP_MS = 5 * 60_000;

/** Normalise a path inside a backup: absolute, no '..', no empty parts. */
export function innerPath(p: string): string {
  if (typeof p !== 'string' || p.length > 4096 || p.includes('\0')) throw invalid('a path inside a backup is at most 4096 characters, without NUL');
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  if (parts.includes('..')) throw invalid(`path ${p} may not contain ..`);
  return `/${parts.join('/')}`;
}

/** Exports and single files of backups. */
export class BackupFiles {
  private mounted = new Map<string, { files: Promise<DiskFiles>; raw: string; timer?: NodeJS.Timeout }>();
  constructor(private d: BaseDeps, private backups: BackupService, private scratch: string) {}

  /** The whole backup as a stream: a disk as raw or qcow2, a container tree as tar. */
  async export(project: string, id: string, format: 'raw' | 'qcow2' | 'tar', opts: { store?: string; disk?: string } = {}): Promise<Download> {
    const { st, manifest: m } = await this.backups.find(project, id, opts.store);
    const base = `${m.instance.name}-${m.id}`;
    if (m.source === 'filesystem') {
      if (format !== 'tar') throw invalid(`backup ${id} is of a container's files: export it as tar`);
      const index = parseDynamicIndex(await readIndex(st, m, TREE_ARCHIVE));
      return { stream: dynamicStream(st.ds, st.codec, index), filename: `${base}.tar`, size: index.size };
    }
    if (format === 'tar') throw invalid(`backup ${id} is of a VM's disks: export a disk as raw or qcow2`);
    const file = diskArchive(opts.disk ?? 'root');
    const a = m.archives.find((x) => x.file === file);
    if (!a) throw notFound(`disk ${opts.disk ?? 'root'} in backup ${id} (it has ${m.archives.map((x) => x.name).join(', ')})`);
    const index = parseFixedIndex(await readIndex(st, m, file));
    if (format === 'raw') return { stream: blockStream(st.ds, st.codec, index), filename: `${base}.raw`, size: index.size };
    // qcow2: the disk into a sparse raw file, converted; both files go once the download ends.
    await mkdir(this.scratch, { recursive: true, mode: 0o700 });
    const tmp = join(this.scratch, `export-${randomUUID().slice(0, 8)}`);
    try {
      await restoreBlockToFile(st.ds, st.codec, index, `${tmp}.raw`, {});
      await this.d.exec.run(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', '--', `${tmp}.raw`, `${tmp}.qcow2`]);
    } finally {
      await rm(`${tmp}.raw`, { force: true });
    }
    const size = (await stat(`${tmp}.qcow2`)).size;
    const stream = createReadStream(`${tmp}.qcow2`);
    stream.on('close', () => void rm(`${tmp}.qcow2`, { force: true }));
    return { stream, filename: `${base}.qcow2`, size };
  }

  /** The entries of directory `dir` inside a backup (a VM disk: of partition `part`, default the first with a filesystem). */
  async list(project: string, id: string, dir: string, opts: { store?: string; part?: number } = {}): Promise<{ entries: BackupFileEntry[]; truncated: boolean; partitions?: { index: number; fs: string | null; size: number }[] }> {
    const path = innerPath(dir);
    const { st, manifest: m } = await this.backups.find(project, id, opts.store);
    if (m.source === 'filesystem') {
      const all = await catalogList(await this.catalog(st, m), path);
      const entries = all.slice(0, MAX_LIST).map((e) => ({ name: e.path.slice(e.path.lastIndexOf('/') + 1), type: e.type, size: e.size, mode: e.mode, mtime: new Date(e.mtime * 1000).toISOString() }));
      return { entries, truncated: all.length > MAX_LIST };
    }
    const files = await this.diskFiles(st, m);
    const parts = files.partitions();
    const part = opts.part ?? parts.find((p) => p.fs)?.index;
    if (part === undefined) throw conflict(`backup ${id}: its root disk has no ext4 or XFS filesystem nimbo can read`);
    const entries = await files.list(part, path);
    return { entries: entries.slice(0, MAX_LIST).map((e) => ({ name: e.name, type: e.type, size: e.size, mode: e.mode, mtime: new Date(e.mtimeMs).toISOString() })), truncated: entries.length > MAX_LIST, partitions: parts.map((p) => ({ index: p.index, fs: p.fs, size: p.size })) };
  }

  /** One regular file inside a backup, streamed. */
  async file(project: string, id: string, file: string, opts: { store?: string; part?: number } = {}): Promise<Download> {
    const path = innerPath(file);
    const { st, manifest: m } = await this.backups.find(project, id, opts.store);
    const name = path.slice(path.lastIndexOf('/') + 1) || 'file';
    if (m.source === 'filesystem') {
      const f = await catalogFile(await this.catalog(st, m), path);
      const index = parseDynamicIndex(await readIndex(st, m, TREE_ARCHIVE));
      return { stream: dynamicStream(st.ds, st.codec, index, { offset: f.dataOffset, length: f.size }), filename: name, size: f.size };
    }
    const files = await this.diskFiles(st, m);
    const part = opts.part ?? files.partitions().find((p) => p.fs)?.index;
    if (part === undefined) throw conflict(`backup ${id}: its root disk has no ext4 or XFS filesystem nimbo can read`);
    const f = await files.open(part, path);
    return { stream: f.stream as Readable, filename: name, size: f.size };
  }

  /** The catalog of a container backup as a stream (read line by line, never whole). */
  private async catalog(st: OpenStore, m: BackupManifest): Promise<Readable> {
    return dynamicStream(st.ds, st.codec, parseDynamicIndex(await readIndex(st, m, CATALOG_ARCHIVE)));
  }

  /** A VM backup's root disk restored into a sparse file and mounted read-only, kept a few minutes. */
  private diskFiles(st: OpenStore, m: BackupManifest): Promise<DiskFiles> {
    const key = `${st.rec.id}/${m.id}`;
    let e = this.mounted.get(key);
    if (!e) {
      const raw = join(this.scratch, `files-${m.id}-${randomUUID().slice(0, 8)}.raw`);
      const files = (async () => {
        await mkdir(this.scratch, { recursive: true, mode: 0o700 });
        const index = parseFixedIndex(await readIndex(st, m, diskArchive('root')));
        await restoreBlockToFile(st.ds, st.codec, index, raw, {});
        // Mount points inside the daemon's state: whatever stops the daemon hard finds and unmounts them there.
        return openDiskFiles(raw, this.d.exec, this.scratch);
      })();
      e = { files, raw };
      this.mounted.set(key, e);
      files.catch(() => {
        this.mounted.delete(key);
        void rm(raw, { force: true });
      });
    }
    const entry = e;
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = setTimeout(() => void this.release(key), KEEP_MS);
    entry.timer.unref();
    return entry.files;
  }

  private async release(key: string): Promise<void> {
    const e = this.mounted.get(key);
    if (!e) return;
    this.mounted.delete(key);
    await (await e.files.catch(() => undefined))?.close().catch((err: unknown) => this.d.log.warn({ err: String(err) }, 'unmounting a backup disk failed'));
    await rm(e.raw, { force: true });
  }

  /** Unmount and remove everything (daemon stop). */
  async close(): Promise<void> {
    await Promise.all([...this.mounted.keys()].map((k) => this.release(k)));
  }
}
