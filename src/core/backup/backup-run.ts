// One backup of one instance into one datastore, as the body of an Operation: the driver opens the
// instance at one instant (a VM's disks through QEMU fleecing with dirty bitmaps, a container's root
// tree), the engine writes chunks and indexes, and the manifest (with the instance's record, so a
// restore can recreate it) is committed last: a failed or killed backup leaves no index behind.
import type { BackupManifest } from '../../backup/manifest.js';
import type { FixedIndex } from '../../backup/index-format.js';
import { backupBlock } from '../../backup/block-backup.js';
import type { BackupWriter } from '../../backup/writer-registry.js';
import { backupStream } from '../../backup/dynamic-backup.js';
import { serializeFixedIndex, serializeDynamicIndex, parseFixedIndex } from '../../backup/index-format.js';
import { newBackupId } from '../../backup/datastore.js';
import { tarTree } from '../../backup/tar-writer.js';
import { conflict } from '../../lib/errors.js';
import { PassThrough } from 'node:stream';
import type { HostExec } from '../../host/exec.js';
import type { InstanceRecord } from '../instance-record.js';
import type { InstanceRuntime } from '../instance-runtime.js';
import type { OpContext } from '../operations.js';
import type { OpenStore } from './backup-stores.js';
import type { DiskBackupSource } from '../../shared/backup-source.js';
import { backupState } from './backup-state.js';

/** The archive file of a disk: root -> disk-root.fidx, POOL/VOLUME -> disk-POOL.VOLUME.fidx. */
export const diskArchive = (diskId: string) => `disk-${diskId.replace('/', '.')}.fidx`;
/** A container's root tree and its catalog. */
export const TREE_ARCHIVE = 'root.tar.didx';
export const CATALOG_ARCHIVE = 'catalog.jsonl.didx';

/** Bitmap names of a datastore: QEMU node names allow 1023 chars; keep them short and recognisable. */
export const bitmapPrefix = (storeId: string) => `nimbo-${storeId.slice(0, 8)}-`;

/** The bytes of index file `file` of backup `m`. */
export function readIndex(st: OpenStore, m: BackupManifest, file: string): Promise<Buffer> {
  return st.ds.readIndexFile(m.project, m.instance.uuid, m.id, file);
}

/** What a backup run needs from core. */
export interface BackupRunDeps {
  runtime: InstanceRuntime;
  exec: HostExec;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

/** The newest backup of this instance in this store whose indexes are all there (the base of an incremental). */
async function baseOf(st: OpenStore, project: string, uuid: string): Promise<BackupManifest | undefined> {
  const all = await st.ds.listSnapshots({ project, uuid });
  return all.sort((a, b) => b.time.localeCompare(a.time))[0];
}

/** Run one backup; returns the committed manifest. */
export async function runBackup(deps: BackupRunDeps, st: OpenStore, rec: InstanceRecord, project: string, opts: { full?: boolean }, ctx: OpContext): Promise<BackupManifest> {
  // Every chunk this backup references is claimed until its snapshot is committed: a concurrent GC keeps it.
  const writer = st.writers.begin();
  try {
    return await run(deps, st, rec, project, opts, ctx, writer);
  } finally {
    writer.end();
  }
}

async function run(deps: BackupRunDeps, st: OpenStore, rec: InstanceRecord, project: string, opts: { full?: boolean }, ctx: OpContext, writer: BackupWriter): Promise<BackupManifest> {
  const { runtime } = deps;
  const driver = runtime.driverOf(rec);
  const caps = driver.capabilities();
  const spec = await runtime.specOf(rec);
  const started = Date.now();
  const id = newBackupId(new Date());
  const log = (line: string) => ctx.log(line);
  const archives: BackupManifest['archives'] = [];
  const files: { name: string; data: Buffer | string }[] = [];
  const stats = { bytesRead: 0, bytesNew: 0, chunksNew: 0, chunksReused: 0, seconds: 0 };
  const add = (s: { bytesRead?: number; bytesNew: number; chunksNew: number; chunksReused: number }) => {
    stats.bytesRead += s.bytesRead ?? 0;
    stats.bytesNew += s.bytesNew;
    stats.chunksNew += s.chunksNew;
    stats.chunksReused += s.chunksReused;
  };
  let consistency: BackupManifest['consistency'];
  let mode: BackupManifest['mode'] = 'full';
  const base = opts.full ? undefined : await baseOf(st, project, rec.uuid);
  if (caps.backup === 'block') {
    if (!driver.openBlockBackup) throw conflict(`${rec.name}: its driver cannot back up disks`);
    // Only disks whose base index is still in the store can be incremental.
    const baseBitmaps: Record<string, string> = {};
    const baseIndex = new Map<string, FixedIndex>();
    for (const a of base?.archives ?? []) {
      if (a.type !== 'fixed' || !a.bitmap) continue;
      baseBitmaps[a.name] = a.bitmap;
      baseIndex.set(a.name, parseFixedIndex(await readIndex(st, base!, a.file)));
    }
    const session = await driver.openBlockBackup(spec, { baseBitmaps, newBitmap: `${bitmapPrefix(st.ds.id)}${id}`, bitmapPrefix: bitmapPrefix(st.ds.id) }, log);
    consistency = session.consistency;
    try {
      const total = session.disks.reduce((n, d) => n + d.reader.size, 0);
      let before = 0;
      for (const disk of session.disks) {
        const prev = disk.mode === 'incremental' ? baseIndex.get(disk.id) : undefined;
        if (disk.mode === 'incremental' && !prev) throw new Error(`disk ${disk.id}: incremental without a base index`);
        if (disk.reason) log(`disk ${disk.id}: full read: ${disk.reason}`);
        else log(`disk ${disk.id}: ${disk.mode} read`);
        const res = await backupDisk(st, writer, disk, prev, ctx, (done) => ctx.progress(Math.min(95, Math.floor(((before + done) / Math.max(1, total)) * 95)), `disk ${disk.id}`));
        before += disk.reader.size;
        add({ ...res.stats, bytesRead: disk.reader.bytesRead });
        const file = diskArchive(disk.id);
        files.push({ name: file, data: serializeFixedIndex(res.index) });
        archives.push({ name: disk.id, type: 'fixed', size: disk.reader.size, file, bitmap: disk.nextBitmap, ...(disk.reason ? { reason: disk.reason } : {}) });
      }
      mode = session.disks.every((d) => d.mode === 'incremental') ? 'incremental' : 'full';
      // A VM's UEFI vars and TPM state, read now (small: stored whole in every backup).
      const state = await backupState(st, writer, driver.exportState ? await driver.exportState(runtime.refOf(rec)) : [], ctx.signal);
      if (state) {
        add(state.stats);
        files.push(state.file);
        archives.push(state.archive);
        log(`VM state: ${state.archive.size} bytes (UEFI vars, TPM state)`);
      }
      const manifest = manifestOf(id, project, rec, 'block', mode, consistency, archives, st, stats, started, base);
      await st.ds.commitSnapshot(manifest, files);
      await session.finish(true);
      return manifest;
    } catch (e) {
      await session.finish(false).catch((err: unknown) => deps.log.warn({ instance: rec.name, err: String(err) }, 'backup: releasing the disks failed'));
      throw e;
    }
  }
  if (!driver.openFsBackup) throw conflict(`${rec.name}: its driver cannot back up its files`);
  const session = await driver.openFsBackup(spec, log);
  consistency = session.consistency;
  try {
    const catalogOut = new PassThrough();
    const tar = tarTree(session.root, { idBase: session.idBase, idCount: session.idCount, exec: deps.exec, catalog: catalogOut, log });
    const [tree, catalog] = await Promise.all([
      backupStream(st.ds, st.codec, tar.stream, { writer, signal: ctx.signal, onProgress: (n: number) => ctx.progress(50, `${Math.round(n / 1048576)} MiB of files`) }),
      backupStream(st.ds, st.codec, catalogOut, { writer, signal: ctx.signal }),
    ]);
    const summary = await tar.done;
    if (summary.unmappedIds) log(`${summary.unmappedIds} files had owners outside the container's ids: stored as 65534`);
    log(`${summary.entries} entries, ${summary.files} files, ${summary.dataBytes} bytes of file data`);
    add({ ...tree.stats, bytesRead: tree.index.size });
    add(catalog.stats);
    files.push({ name: TREE_ARCHIVE, data: serializeDynamicIndex(tree.index) }, { name: CATALOG_ARCHIVE, data: serializeDynamicIndex(catalog.index) });
    archives.push({ name: 'root.tar', type: 'dynamic', size: tree.index.size, file: TREE_ARCHIVE }, { name: 'catalog', type: 'dynamic', size: catalog.index.size, file: CATALOG_ARCHIVE });
    const manifest = manifestOf(id, project, rec, 'filesystem', 'full', consistency, archives, st, stats, started, base);
    await st.ds.commitSnapshot(manifest, files);
    return manifest;
  } finally {
    await session.finish().catch((err: unknown) => deps.log.warn({ instance: rec.name, err: String(err) }, 'backup: releasing the root failed'));
  }
}

function backupDisk(st: OpenStore, writer: BackupWriter, disk: DiskBackupSource, prev: FixedIndex | undefined, ctx: OpContext, onProgress: (done: number) => void) {
  return backupBlock(st.ds, st.codec, disk.reader, { ...(prev ? { prev: { index: prev } } : {}), writer, signal: ctx.signal, onProgress });
}

function manifestOf(
  id: string, project: string, rec: InstanceRecord, source: BackupManifest['source'], mode: BackupManifest['mode'], consistency: BackupManifest['consistency'],
  archives: BackupManifest['archives'], st: OpenStore, stats: BackupManifest['stats'], started: number, base: BackupManifest | undefined,
): BackupManifest {
  return {
    format: 1, id, project, instance: { name: rec.name, uuid: rec.uuid, type: rec.type }, time: new Date().toISOString(), source, mode, consistency,
    config: rec, archives, keyFingerprint: st.rec.keyFingerprint, stats: { ...stats, seconds: (Date.now() - started) / 1000 },
    ...(mode === 'incremental' && base ? { parent: base.id } : {}),
  };
}
