// The one store transaction of a rename: the record moves to its new key, and every record that names the
// instance follows (snapshots, addresses, volume claims, forwards, id slots). Each key it reads is compared at
// the revision it was read, the new name must be free, so a concurrent change makes the whole txn fail.
// A reference created meanwhile (a new key) cannot be compared: the rename sweeps those up right after.
import { keys, keyTail } from '../store/keys.js';
import type { Compare, KeyValue, Store, TxnOp } from '../store/store.js';
import type { InstanceRecord } from './instance-record.js';

/** What a rename moves. */
export interface RenameInput {
  from: string;
  to: string;
  /** The record as it is stored under the new name. */
  record: InstanceRecord;
  /** The old key's revision when `record` was derived from it. */
  revision: number;
}

/** Compares and writes of a rename (nothing is written here). */
export async function renameTxn(store: Store, r: RenameInput): Promise<{ compares: Compare[]; ops: TxnOp[] }> {
  const refs = await referenceMoves(store, r.from, r.to);
  return {
    compares: [{ key: keys.instance(r.from), modRevision: r.revision }, { key: keys.instance(r.to), modRevision: 0 }, ...refs.compares],
    ops: [{ type: 'delete', key: keys.instance(r.from) }, { type: 'put', key: keys.instance(r.to), value: r.record }, ...refs.ops],
  };
}

/**
 * Compares and writes that make every record naming instance `from` name `to` (snapshot keys move too).
 * `upTo`: only records last written at or before that revision (the sweep after a rename leaves alone what a
 * new instance that took the old name wrote since).
 */
export async function referenceMoves(store: Store, from: string, to: string, upTo = Infinity): Promise<{ compares: Compare[]; ops: TxnOp[] }> {
  const compares: Compare[] = [];
  const ops: TxnOp[] = [];
  /** Rewrite `kv` to `value` at `newKey` (default: in place), compared at the revision it was read. */
  const move = (kv: KeyValue<unknown>, value: unknown, newKey = kv.key) => {
    if (kv.modRevision > upTo) return;
    compares.push({ key: kv.key, modRevision: kv.modRevision });
    if (newKey !== kv.key) {
      compares.push({ key: newKey, modRevision: 0 });
      ops.push({ type: 'delete', key: kv.key });
    }
    ops.push({ type: 'put', key: newKey, value });
  };
  for (const kv of await store.list<{ instance?: string }>(keys.snapshots(from))) {
    move(kv, { ...kv.value, instance: to }, keys.snapshot(to, keyTail(keys.snapshots(from), kv.key)!));
  }
  for (const kv of await store.list<{ owner?: string; hostname?: string }>(keys.allIpam)) {
    if (kv.value.owner === from) move(kv, { ...kv.value, owner: to, ...(kv.value.hostname === from ? { hostname: to } : {}) });
  }
  for (const kv of await store.list<{ attachedTo?: string | null }>(keys.allVolumeMeta)) {
    if (kv.value.attachedTo === from) move(kv, { ...kv.value, attachedTo: to });
  }
  for (const kv of await store.list<{ instance?: string }>(keys.allForwards)) {
    if (kv.value.instance === from) move(kv, { ...kv.value, instance: to });
  }
  for (const prefix of [keys.idmaps, keys.vmids]) {
    for (const kv of await store.list<{ owner?: string }>(prefix)) {
      if (kv.value.owner === from) move(kv, { ...kv.value, owner: to });
    }
  }
  return { compares, ops };
}
