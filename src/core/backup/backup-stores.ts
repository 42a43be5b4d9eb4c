// Backup datastores known to this daemon: a record per store (name, path, id, key fingerprint) in the
// store, the datastore itself on disk (src/backup/datastore.ts), and for an encrypted one its key in
// STATE/backup-keys/<id>.json (0600, root's only). The datastore keeps the same key wrapped by the
// passphrase, so it can be attached elsewhere by whoever knows the passphrase; a lost passphrase and a
// lost key file together lose the backups: nobody can decrypt them.
import { existsSync, mkdirSync, readdirSync, statfsSync } from 'node:fs';
import { chmod, rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import { Datastore, MARKER } from '../../backup/datastore.js';
import { makeCodec, type ChunkCodec } from '../../backup/codec.js';
import { keyFromFile, keyToFile, newKey, unwrapKey, validateWrappedKey, wrapKey, type CryptKey, type WrappedKey } from '../../backup/keyfile.js';
import { WriterRegistry } from '../../backup/writer-registry.js';
import { conflict, invalid, notFound } from '../../lib/errors.js';
import { validateName } from '../../lib/validate.js';
import { keys } from '../../store/keys.js';
import type { BackupStore, BackupStoreCreate } from '../../shared/backup-types.js';
import type { BaseDeps } from '../deps.js';

/** A datastore as recorded in the store. */
export interface BackupStoreRecord {
  name: string;
  path: string;
  id: string;
  encrypted: boolean;
  keyFingerprint: string | null;
  createdAt: string;
}

/** An open datastore: its files, the codec of its key, and the registry of backups writing into it (for GC). */
export interface OpenStore {
  rec: BackupStoreRecord;
  ds: Datastore;
  codec: ChunkCodec;
  writers: WriterRegistry;
}

/** Directories a datastore may not be put in (the daemon's own state, system trees). */
const FORBIDDEN = ['/', '/bin', '/boot', '/dev', '/etc', '/lib', '/lib64', '/proc', '/run', '/sbin', '/sys', '/usr', '/var'];

/** The registry of datastores. */
export class BackupStores {
  private open = new Map<string, Promise<OpenStore>>();
  constructor(private d: BaseDeps, private stateDir: string) {}

  private keyPath(id: string): string {
    return join(this.stateDir, 'backup-keys', `${id}.json`);
  }

  /** Every datastore, by name. */
  async list(): Promise<BackupStoreRecord[]> {
    return (await this.d.store.list<BackupStoreRecord>(keys.backupStores)).map((kv) => kv.value).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** One datastore's record; NotFound with the names there are. */
  async get(name: string): Promise<BackupStoreRecord> {
    validateName(name, 'backup store name');
    const kv = await this.d.store.get<BackupStoreRecord>(keys.backupStore(name));
    if (!kv) throw notFound(`backup store ${name}`);
    return kv.value;
  }

  /** The datastore opened (once per daemon run) with its key. */
  async use(name: string): Promise<OpenStore> {
    const rec = await this.get(name);
    let p = this.open.get(name);
    if (!p) {
      p = this.openStore(rec);
      this.open.set(name, p);
      p.catch(() => this.open.delete(name));
    }
    return p;
  }

  private async openStore(rec: BackupStoreRecord): Promise<OpenStore> {
    if (!existsSync(rec.path)) throw conflict(`backup store ${rec.name}: ${rec.path} is not there (an unmounted disk?)`);
    const ds = await Datastore.open(rec.path, { exec: this.d.exec });
    if (ds.id !== rec.id) throw conflict(`backup store ${rec.name}: ${rec.path} now holds another datastore (${ds.id}, recorded ${rec.id})`);
    let key: CryptKey | null = null;
    if (rec.encrypted) {
      if (!existsSync(this.keyPath(rec.id))) throw conflict(`backup store ${rec.name} is encrypted and its key file ${this.keyPath(rec.id)} is missing: attach it again with its passphrase`);
      key = await keyFromFile(this.keyPath(rec.id));
      if (key.fingerprint !== rec.keyFingerprint) throw conflict(`backup store ${rec.name}: the key file is of key ${key.fingerprint}, the store's key is ${rec.keyFingerprint}`);
    }
    return { rec, ds, codec: await makeCodec(key), writers: new WriterRegistry() };
  }

  /** Create a datastore in an empty (or absent) directory, or attach the datastore already there. */
  async create(req: BackupStoreCreate): Promise<BackupStoreRecord> {
    const name = validateName(req.name, 'backup store name');
    const path = normalize(req.path).replace(/\/+$/, '');
    if (!isAbsolute(path) || path.split('/').includes('..')) throw invalid(`backup store path ${req.path} must be an absolute path without ..`);
    if (FORBIDDEN.includes(path) || path === this.stateDir || this.stateDir.startsWith(`${path}/`) || path.startsWith(`${this.stateDir}/`)) {
      throw invalid(`backup store path ${path} is a system directory or overlaps the daemon's state directory`);
    }
    if (!existsSync(dirname(path))) throw invalid(`${dirname(path)} does not exist on the daemon host: a store's parent directory must (mount the disk first)`);
    if (await this.d.store.get(keys.backupStore(name))) throw conflict(`backup store ${name} already exists`);
    for (const other of await this.list()) if (other.path === path) throw conflict(`${path} is already backup store ${other.name}`);
    if (req.encrypt && !req.passphrase) throw invalid('an encrypted backup store needs a passphrase (it wraps the store key)');
    const attach = existsSync(join(path, MARKER));
    let ds: Datastore;
    let key: CryptKey | null = null;
    if (attach) {
      ds = await Datastore.open(path, { exec: this.d.exec });
      if (ds.encryption) {
        if (!ds.encryption.wrappedKey) throw conflict(`${path} holds an encrypted datastore without its wrapped key: it cannot be attached`);
        if (!req.passphrase) throw invalid(`${path} holds an encrypted datastore: give its passphrase to attach it`);
        key = await unwrapKey(ds.encryption.wrappedKey, req.passphrase); // a wrong passphrase throws here: nothing is written
      } else if (req.encrypt) throw invalid(`${path} holds an unencrypted datastore: attach it without --encrypt`);
    } else {
      if (existsSync(path) && readdirSync(path).length > 0) throw conflict(`${path} is not empty and holds no nimbo datastore: choose an empty or new directory`);
      if (req.wrappedKey && !req.encrypt) throw invalid('a given key is for an encrypted store: add --encrypt');
      // A given key (another store's, for a sync between them) or a new one; either way wrapped by the passphrase.
      if (req.encrypt) key = req.wrappedKey ? await unwrapKey(validateWrappedKey(req.wrappedKey), req.passphrase!) : newKey();
      ds = await Datastore.create(path, { exec: this.d.exec, wrappedKey: key ? await wrapKey(key, req.passphrase!) : null });
      await chmod(path, 0o700);
    }
    if (key) {
      mkdirSync(join(this.stateDir, 'backup-keys'), { recursive: true, mode: 0o700 });
      await keyToFile(this.keyPath(ds.id), key);
    }
    const rec: BackupStoreRecord = { name, path, id: ds.id, encrypted: !!key, keyFingerprint: key?.fingerprint ?? null, createdAt: new Date().toISOString() };
    try {
      await this.d.store.put(keys.backupStore(name), rec, { expectRevision: 0 });
    } catch (e) {
      if (!attach) await rm(path, { recursive: true, force: true }).catch(() => undefined);
      throw e;
    }
    this.d.log.info({ store: name, path, attached: attach, encrypted: rec.encrypted }, attach ? 'backup store attached' : 'backup store created');
    return rec;
  }

  /** The store key wrapped by the passphrase, as the datastore keeps it (NotFound for an unencrypted store). */
  async wrappedKey(name: string): Promise<WrappedKey> {
    const { ds, rec } = await this.use(name);
    if (!ds.encryption?.wrappedKey) throw notFound(`a wrapped key of backup store ${rec.name} (it is not encrypted)`);
    return ds.encryption.wrappedKey;
  }

  /** Forget a datastore (its files stay where they are, to be attached again). */
  async remove(name: string): Promise<void> {
    const rec = await this.get(name);
    await this.d.store.delete(keys.backupStore(name));
    this.open.delete(name);
    await rm(this.keyPath(rec.id), { force: true });
  }

  /** The API view: the path only for platform roles; usage when asked (it walks the chunks). */
  async view(rec: BackupStoreRecord, opts: { showPath: boolean; usage?: boolean }): Promise<BackupStore> {
    const out: BackupStore = { name: rec.name, id: rec.id, encrypted: rec.encrypted, keyFingerprint: rec.keyFingerprint, createdAt: rec.createdAt };
    if (opts.showPath) out.path = rec.path;
    if (opts.usage) {
      const { ds } = await this.use(rec.name);
      const u = await ds.usage();
      const fs = statfsSync(rec.path);
      out.usage = { chunks: u.chunks, bytes: u.bytes, available: fs.bavail * fs.bsize };
    }
    return out;
  }
}
