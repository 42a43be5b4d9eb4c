// A datastore on a local (or mounted) filesystem: content-addressed chunks under chunks/<2 hex>/<64 hex> and one
// directory per backup under snapshots/<project>/<instance uuid>/<backup id>/ (manifest.json + index files).
// Crash safety: a chunk appears by rename of a complete temp file; a snapshot directory appears by rename only after
// syncfs made every chunk durable, so no index ever names a chunk that a crash could lose.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RealExec, type HostExec } from '../host/exec.js';
import { NimboError, conflict, invalid, notFound } from '../lib/errors.js';
import { errCode, fsyncDir, writeError, writeFileDurable } from './fs-durable.js';
import { parseDynamicIndex, parseFixedIndex, type DynamicIndex, type FixedIndex } from './index-format.js';
import { validateWrappedKey, type WrappedKey } from './keyfile.js';
import { assertSafeName, validateManifest, type BackupManifest } from './manifest.js';

/** The marker file that makes a directory a datastore. */
export const MARKER = 'nimbo-datastore.json';
const DIGEST = /^[0-9a-f]{64}$/;
// Temp entries older than this process are leftovers of a crash (a running backup of this process makes newer ones).
const PROCESS_START = Date.now() - process.uptime() * 1000;

/** Encryption of a store: the key's fingerprint, and the key wrapped by a passphrase if one was set. */
export interface DatastoreEncryption {
  fingerprint: string;
  wrappedKey: WrappedKey | null;
}

/** Contents of nimbo-datastore.json. */
export interface DatastoreMarker {
  format: 1;
  id: string;
  created: string;
  encryption: DatastoreEncryption | null;
}

/** Options for create/open: the host adapter runs `sync -f` (syncfs). */
export interface DatastoreOptions {
  exec?: HostExec;
}

/** Last verify result of a snapshot (verify.json). */
export interface VerifyState {
  time: string;
  ok: boolean;
}

/** A sortable, unique backup id: 20261205T141500Z-3fa9. */
export function newBackupId(date = new Date()): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z') + '-' + randomBytes(2).toString('hex');
}

/** One datastore directory. */
export class Datastore {
  private constructor(
    readonly dir: string,
    readonly marker: DatastoreMarker,
    private readonly exec: HostExec,
  ) {}

  get id(): string {
    return this.marker.id;
  }
  get encryption(): DatastoreEncryption | null {
    return this.marker.encryption;
  }

  /** Make a new datastore in `dir` (absent or empty). Encrypted when a wrapped key or a key fingerprint is given. */
  static async create(
    dir: string,
    opts: DatastoreOptions & { id?: string; wrappedKey?: WrappedKey | null; keyFingerprint?: string | null } = {},
  ): Promise<Datastore> {
    const existing = await readdir(dir).catch((e) => (errCode(e) === 'ENOENT' ? null : Promise.reject(e)));
    if (existing && existing.length > 0) throw conflict(`datastore directory ${dir} is not empty`);
    const wrapped = opts.wrappedKey ? validateWrappedKey(opts.wrappedKey) : null;
    if (wrapped && opts.keyFingerprint && opts.keyFingerprint !== wrapped.fingerprint) throw invalid('the key fingerprint does not match the wrapped key');
    const fp = wrapped?.fingerprint ?? opts.keyFingerprint ?? null;
    const marker: DatastoreMarker = {
      format: 1,
      id: opts.id ?? randomUUID(),
      created: new Date().toISOString(),
      encryption: fp ? { fingerprint: fp, wrappedKey: wrapped } : null,
    };
    try {
      await mkdir(join(dir, 'tmp'), { recursive: true, mode: 0o700 });
      await mkdir(join(dir, 'snapshots'), { mode: 0o700 });
      await mkdir(join(dir, 'chunks'), { mode: 0o700 });
      await Promise.all(Array.from({ length: 256 }, (_, i) => mkdir(join(dir, 'chunks', i.toString(16).padStart(2, '0')))));
      const tmp = join(dir, 'tmp', MARKER);
      await writeFileDurable(tmp, JSON.stringify(marker, null, 2) + '\n', 0o600);
      await rename(tmp, join(dir, MARKER));
      await fsyncDir(dir);
    } catch (e) {
      // A failed create leaves the directory as it was (absent, or empty).
      if (existing === null) await rm(dir, { recursive: true, force: true });
      else for (const n of await readdir(dir).catch(() => [])) await rm(join(dir, n), { recursive: true, force: true });
      throw writeError(e, dir, 'the datastore marker');
    }
    return new Datastore(dir, marker, opts.exec ?? new RealExec());
  }

  /** Open an existing datastore: checks the marker, removes temp leftovers of a crash. */
  static async open(dir: string, opts: DatastoreOptions = {}): Promise<Datastore> {
    let text: string;
    try {
      text = await readFile(join(dir, MARKER), 'utf8');
    } catch (e) {
      if (errCode(e) === 'ENOENT') throw notFound(`datastore at ${dir} (no ${MARKER})`);
      throw e;
    }
    let m: DatastoreMarker;
    try {
      m = JSON.parse(text) as DatastoreMarker;
    } catch {
      throw invalid(`${join(dir, MARKER)} is not valid JSON`);
    }
    if (!m || m.format !== 1 || typeof m.id !== 'string' || typeof m.created !== 'string') throw invalid(`${join(dir, MARKER)} is not a format-1 datastore marker`);
    if (m.encryption !== null) {
      if (!m.encryption || typeof m.encryption.fingerprint !== 'string') throw invalid(`${join(dir, MARKER)}: bad encryption entry`);
      if (m.encryption.wrappedKey) validateWrappedKey(m.encryption.wrappedKey);
    }
    const ds = new Datastore(dir, m, opts.exec ?? new RealExec());
    await mkdir(join(dir, 'tmp'), { recursive: true, mode: 0o700 });
    for (const n of await readdir(join(dir, 'tmp'))) {
      const p = join(dir, 'tmp', n);
      const st = await stat(p).catch(() => null);
      if (st && st.mtimeMs < PROCESS_START) await rm(p, { recursive: true, force: true });
    }
    return ds;
  }

  /** Path of a chunk file. */
  chunkPath(digest: string): string {
    if (!DIGEST.test(digest)) throw invalid(`bad chunk digest ${digest.slice(0, 80)}`);
    return join(this.dir, 'chunks', digest.slice(0, 2), digest);
  }

  /** Whether the chunk is stored. */
  async hasChunk(digest: string): Promise<boolean> {
    return stat(this.chunkPath(digest)).then(() => true, (e) => (errCode(e) === 'ENOENT' ? false : Promise.reject(e)));
  }

  /** Set a stored chunk's mtime to now (GC's grace counts from it); false when the chunk is absent. */
  async touchChunk(digest: string): Promise<boolean> {
    const now = new Date();
    return utimes(this.chunkPath(digest), now, now).then(() => true, (e) => (errCode(e) === 'ENOENT' ? false : Promise.reject(e)));
  }

  /** Store a chunk atomically (temp file + rename); an existing one is only touched. True when it was new. */
  async insertChunk(digest: string, blob: Buffer): Promise<boolean> {
    const target = this.chunkPath(digest);
    if (await this.touchChunk(digest)) return false;
    const tmp = join(this.dir, 'tmp', `chunk-${digest}-${randomBytes(4).toString('hex')}`);
    try {
      await writeFile(tmp, blob, { flag: 'wx', mode: 0o600 });
      await rename(tmp, target).catch(async (e) => {
        if (errCode(e) !== 'ENOENT') throw e;
        await mkdir(join(this.dir, 'chunks', digest.slice(0, 2)), { recursive: true });
        await rename(tmp, target);
      });
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw writeError(e, this.dir, `chunk ${digest.slice(0, 12)}`);
    }
    return true;
  }

  /** The stored blob of a chunk (NotFound when missing). */
  async readChunk(digest: string): Promise<Buffer> {
    try {
      return await readFile(this.chunkPath(digest));
    } catch (e) {
      if (errCode(e) === 'ENOENT') throw new NimboError('NotFound', `chunk ${digest} is missing from datastore ${this.dir}`, { digest, missing: true });
      throw e;
    }
  }

  /** Every stored chunk's digest. */
  async *chunkDigests(): AsyncGenerator<string> {
    const root = join(this.dir, 'chunks');
    for (const sub of (await readdir(root)).sort()) {
      if (!/^[0-9a-f]{2}$/.test(sub)) continue;
      for (const n of await readdir(join(root, sub)).catch(() => [] as string[])) if (DIGEST.test(n) && n.startsWith(sub)) yield n;
    }
  }

  /** Number of chunks and their stored bytes. */
  async usage(): Promise<{ chunks: number; bytes: number }> {
    let chunks = 0;
    let bytes = 0;
    for await (const d of this.chunkDigests()) {
      const st = await stat(this.chunkPath(d)).catch(() => null);
      if (!st) continue;
      chunks++;
      bytes += st.size;
    }
    return { chunks, bytes };
  }

  /** Directory of one snapshot. */
  snapshotDir(project: string, uuid: string, id: string): string {
    assertSafeName(project, 'project');
    assertSafeName(uuid, 'instance uuid');
    assertSafeName(id, 'backup id');
    return join(this.dir, 'snapshots', project, uuid, id);
  }

  /**
   * Publish a snapshot: make every chunk durable (syncfs), then write manifest + index files into a temp dir,
   * fsync them and rename the dir into place. A failure leaves nothing behind.
   */
  async commitSnapshot(manifest: BackupManifest, files: { name: string; data: Buffer | string }[]): Promise<void> {
    const m = validateManifest(manifest);
    const names = new Set(files.map((f) => f.name));
    for (const f of files) {
      assertSafeName(f.name, 'index file');
      if (f.name === 'manifest.json' || f.name === 'verify.json') throw invalid(`index file name ${f.name} is reserved`);
    }
    for (const a of m.archives) if (!names.has(a.file)) throw invalid(`archive ${a.name}: index file ${a.file} not given`);
    const target = this.snapshotDir(m.project, m.instance.uuid, m.id);
    if (await stat(target).then(() => true, () => false)) throw conflict(`backup ${m.id} already exists`);
    // syncfs of the datastore's filesystem: the chunks written by this backup reach the disk before any index does.
    await this.exec.run(['sync', '-f', this.dir], { timeoutMs: 30 * 60_000 });
    const tmp = join(this.dir, 'tmp', `snap-${m.id}-${randomBytes(4).toString('hex')}`);
    try {
      await mkdir(tmp, { mode: 0o700 });
      for (const f of files) await writeFileDurable(join(tmp, f.name), f.data, 0o600);
      await writeFileDurable(join(tmp, 'manifest.json'), JSON.stringify(m, null, 2) + '\n', 0o600);
      await fsyncDir(tmp);
      const parent = join(this.dir, 'snapshots', m.project, m.instance.uuid);
      await mkdir(parent, { recursive: true, mode: 0o700 });
      await rename(tmp, target);
      await fsyncDir(parent);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      throw writeError(e, this.dir, `backup ${m.id}`);
    }
  }

  /** Manifests of the committed snapshots (optionally of one project / instance), oldest first. */
  async listSnapshots(filter: { project?: string; uuid?: string } = {}): Promise<BackupManifest[]> {
    const root = join(this.dir, 'snapshots');
    const out: BackupManifest[] = [];
    const projects = filter.project ? [filter.project] : await readdir(root);
    for (const p of projects) {
      const uuids = filter.uuid ? [filter.uuid] : await readdir(join(root, p)).catch(() => [] as string[]);
      for (const u of uuids) {
        for (const id of await readdir(join(root, p, u)).catch(() => [] as string[])) out.push(await this.readManifest(p, u, id));
      }
    }
    return out.sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
  }

  /** The manifest of one snapshot (NotFound when absent; InvalidArgument when damaged). */
  async readManifest(project: string, uuid: string, id: string): Promise<BackupManifest> {
    const file = join(this.snapshotDir(project, uuid, id), 'manifest.json');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if (errCode(e) === 'ENOENT') throw notFound(`backup ${id}`);
      throw e;
    }
    let o: unknown;
    try {
      o = JSON.parse(text);
    } catch {
      throw invalid(`${file} is not valid JSON (damaged backup)`);
    }
    const m = validateManifest(o, file);
    if (m.id !== id || m.project !== project || m.instance.uuid !== uuid) throw invalid(`${file} does not belong to its directory`);
    return m;
  }

  /** The manifest of a backup by id alone, or null. */
  async findSnapshot(id: string): Promise<BackupManifest | null> {
    assertSafeName(id, 'backup id');
    const root = join(this.dir, 'snapshots');
    for (const p of await readdir(root)) {
      for (const u of await readdir(join(root, p)).catch(() => [] as string[])) {
        if (await stat(join(root, p, u, id)).then(() => true, () => false)) return this.readManifest(p, u, id);
      }
    }
    return null;
  }

  /** Raw bytes of an index file of a snapshot. */
  async readIndexFile(project: string, uuid: string, id: string, name: string): Promise<Buffer> {
    assertSafeName(name, 'index file');
    return readFile(join(this.snapshotDir(project, uuid, id), name));
  }

  /** The parsed index of one archive of a snapshot. */
  async readArchiveIndex(m: BackupManifest, archive: string): Promise<FixedIndex | DynamicIndex> {
    const a = m.archives.find((x) => x.name === archive);
    if (!a) throw notFound(`archive ${archive} in backup ${m.id}`);
    const raw = await this.readIndexFile(m.project, m.instance.uuid, m.id, a.file);
    return a.type === 'fixed' ? parseFixedIndex(raw, `${m.id}/${a.file}`) : parseDynamicIndex(raw, `${m.id}/${a.file}`);
  }

  /** Record the result of a verify in the snapshot (verify.json, replaced atomically). */
  async writeVerifyState(project: string, uuid: string, id: string, state: VerifyState): Promise<void> {
    const dir = this.snapshotDir(project, uuid, id);
    const tmp = join(this.dir, 'tmp', `verify-${id}-${randomBytes(4).toString('hex')}`);
    try {
      await writeFileDurable(tmp, JSON.stringify(state) + '\n', 0o600);
      await rename(tmp, join(dir, 'verify.json'));
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw writeError(e, this.dir, `verify state of ${id}`);
    }
  }

  /** The last verify result of a snapshot, or null if never verified. */
  async readVerifyState(project: string, uuid: string, id: string): Promise<VerifyState | null> {
    const text = await readFile(join(this.snapshotDir(project, uuid, id), 'verify.json'), 'utf8').catch(() => null);
    if (!text) return null;
    try {
      const o = JSON.parse(text) as VerifyState;
      return typeof o.time === 'string' && typeof o.ok === 'boolean' ? o : null;
    } catch {
      return null;
    }
  }

  /** Delete a snapshot (its chunks stay until GC): it disappears at once by a rename, then is removed. */
  async removeSnapshot(project: string, uuid: string, id: string): Promise<void> {
    const dir = this.snapshotDir(project, uuid, id);
    const tmp = join(this.dir, 'tmp', `rm-${id}-${randomBytes(4).toString('hex')}`);
    try {
      await rename(dir, tmp);
    } catch (e) {
      if (errCode(e) === 'ENOENT') throw notFound(`backup ${id}`);
      throw e;
    }
    // Empty parent directories stay: removing them could race with a backup of the same instance being committed.
    await rm(tmp, { recursive: true, force: true });
  }
}
