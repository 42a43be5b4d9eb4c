/** One key with its value and revisions (etcd-shaped: create/mod revision, version). */
export interface KeyValue<T = unknown> {
  key: string;
  value: T;
  createRevision: number;
  modRevision: number;
  version: number;
}

/** A compare in a transaction: the key's modRevision must equal `modRevision` (0 = key absent). */
export interface Compare {
  key: string;
  modRevision: number;
}

/** A write in a transaction. */
export type TxnOp = { type: 'put'; key: string; value: unknown } | { type: 'delete'; key: string };

/** A change seen by a watcher. */
export interface WatchEvent {
  type: 'put' | 'delete';
  key: string;
  value?: unknown;
  revision: number;
}

/**
 * nimbo's state store: a key-value space with global revisions, compare-and-swap
 * transactions and prefix watches, shaped after etcd so a cluster backend can replace SQLite.
 */
export interface Store {
  get<T>(key: string): Promise<KeyValue<T> | undefined>;
  list<T>(prefix: string): Promise<KeyValue<T>[]>;
  /** Put a value; with `expectRevision` (0 = must not exist) it is a compare-and-swap. Returns the new revision. */
  put(key: string, value: unknown, opts?: { expectRevision?: number }): Promise<number>;
  /** Delete a key; false when it did not exist. */
  delete(key: string, opts?: { expectRevision?: number }): Promise<boolean>;
  /** Apply all ops atomically if every compare holds; returns false (and writes nothing) otherwise. */
  txn(compares: Compare[], ops: TxnOp[]): Promise<boolean>;
  /** Call `cb` for every change under `prefix`; returns an unsubscribe function. */
  watch(prefix: string, cb: (ev: WatchEvent) => void): () => void;
  /** The current global revision. */
  revision(): Promise<number>;
  close(): Promise<void>;
}
