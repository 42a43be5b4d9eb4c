import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import { RevisionConflict } from '../../lib/errors.js';

/** The database holds every record and the admin token's hash: root's alone (core/state-modes.ts's policy). */
const DB_FILE_MODE = 0o600;
import type { Compare, KeyValue, Store, TxnOp, WatchEvent } from '../store.js';
import { MIGRATIONS } from './migrations.js';

interface Row {
  key: string;
  value: string;
  create_rev: number;
  mod_rev: number;
  version: number;
}

const toKv = <T>(r: Row): KeyValue<T> => ({
  key: r.key,
  value: JSON.parse(r.value) as T,
  createRevision: r.create_rev,
  modRevision: r.mod_rev,
  version: r.version,
});

/** The embedded single-host Store: SQLite (WAL) through better-sqlite3. */
export class SqliteStore implements Store {
  private db: Database.Database;
  private watchers = new Set<{ prefix: string; cb: (ev: WatchEvent) => void }>();

  constructor(path: string) {
    // 0600 before SQLite opens it: SQLite gives the -wal and -shm files the database file's mode.
    if (path !== ':memory:' && path !== '') {
      closeSync(openSync(path, 'a', DB_FILE_MODE));
      for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, DB_FILE_MODE);
    }
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
  }

  /** Schema version after migrations ran. */
  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  private migrate(): void {
    const current = this.schemaVersion();
    for (let v = current; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  private rev(): number {
    return Number((this.db.prepare("SELECT v FROM meta WHERE k = 'revision'").get() as { v: string }).v);
  }

  private bump(): number {
    const next = this.rev() + 1;
    this.db.prepare("UPDATE meta SET v = ? WHERE k = 'revision'").run(String(next));
    return next;
  }

  private row(key: string): Row | undefined {
    return this.db.prepare('SELECT * FROM kv WHERE key = ?').get(key) as Row | undefined;
  }

  private holds(c: Compare): boolean {
    return (this.row(c.key)?.mod_rev ?? 0) === c.modRevision;
  }

  /** Writes one op inside an open transaction; returns the watch event. */
  private apply(op: TxnOp, revision: number): WatchEvent | undefined {
    if (op.type === 'delete') {
      const res = this.db.prepare('DELETE FROM kv WHERE key = ?').run(op.key);
      return res.changes ? { type: 'delete', key: op.key, revision } : undefined;
    }
    this.db
      .prepare(
        `INSERT INTO kv (key, value, create_rev, mod_rev, version) VALUES (@key, @value, @rev, @rev, 1)
         ON CONFLICT(key) DO UPDATE SET value = @value, mod_rev = @rev, version = version + 1`,
      )
      .run({ key: op.key, value: JSON.stringify(op.value), rev: revision });
    return { type: 'put', key: op.key, value: op.value, revision };
  }

  private commit(compares: Compare[], ops: TxnOp[]): { ok: boolean; revision: number; events: WatchEvent[] } {
    return this.db.transaction(() => {
      if (!compares.every((c) => this.holds(c))) return { ok: false, revision: this.rev(), events: [] };
      const revision = this.bump();
      const events = ops.map((op) => this.apply(op, revision)).filter((e): e is WatchEvent => !!e);
      return { ok: true, revision, events };
    }).immediate();
  }

  private notify(events: WatchEvent[]): void {
    for (const ev of events) for (const w of this.watchers) if (ev.key.startsWith(w.prefix)) w.cb(ev);
  }

  async get<T>(key: string): Promise<KeyValue<T> | undefined> {
    const r = this.row(key);
    return r ? toKv<T>(r) : undefined;
  }

  async list<T>(prefix: string): Promise<KeyValue<T>[]> {
    const rows = this.db
      .prepare("SELECT * FROM kv WHERE key >= ? AND key < ? || char(1114111) ORDER BY key")
      .all(prefix, prefix) as Row[];
    return rows.filter((r) => r.key.startsWith(prefix)).map((r) => toKv<T>(r));
  }

  async put(key: string, value: unknown, opts: { expectRevision?: number } = {}): Promise<number> {
    const compares = opts.expectRevision === undefined ? [] : [{ key, modRevision: opts.expectRevision }];
    const res = this.commit(compares, [{ type: 'put', key, value }]);
    if (!res.ok) throw new RevisionConflict(key, opts.expectRevision!);
    this.notify(res.events);
    return res.revision;
  }

  async delete(key: string, opts: { expectRevision?: number } = {}): Promise<boolean> {
    if (!this.row(key)) return false;
    const compares = opts.expectRevision === undefined ? [] : [{ key, modRevision: opts.expectRevision }];
    const res = this.commit(compares, [{ type: 'delete', key }]);
    if (!res.ok) throw new RevisionConflict(key, opts.expectRevision!);
    this.notify(res.events);
    return res.events.length > 0;
  }

  async txn(compares: Compare[], ops: TxnOp[]): Promise<boolean> {
    const res = this.commit(compares, ops);
    this.notify(res.events);
    return res.ok;
  }

  watch(prefix: string, cb: (ev: WatchEvent) => void): () => void {
    const w = { prefix, cb };
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }

  async revision(): Promise<number> {
    return this.rev();
  }

  async close(): Promise<void> {
    this.watchers.clear();
    this.db.close();
  }
}
