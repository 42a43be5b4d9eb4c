// The one store transaction of a rename: the record moves to its new key, and every record that names the
// instance follows (snapshots, addresses, volume claims, forwards, id slots). Each key it reads is compared at
// the revision it was read, the new name must be free, so a concurrent change makes the whole txn fail.
// A reference created meanwhile (a new key) cannot be compared: the rename sweeps those up right after.
import { DEFAULT_PROJECT, keys, keyTail } from '../store/keys.js';
import type { Compare, KeyValue, Store, TxnOp } from '../store/store.js';
import type { InstanceRecord } from './instance-record.js';

/** What a rename moves. */
export interface RenameInput {
  /** The project of the instance (every reference moved is in it). */
  project: string;
  from: string;
  to: string;
  /** The record as it is stored under the new name. */
  record: InstanceRecord;
  /** The old key's revision when `record` was derived from it. */
  revision: number;
}

/** Compares and writes of a rename (nothing is written here). */
export async function renameTxn(store: Store, r: RenameInput): Promise<{ compares: Compare[]; ops: TxnOp[] }> {
  const refs = await referenceMoves(store, r.project, r.from, r.to);
  const p = r.project;
  return {
    compares: [{ key: keys.instance(p, r.from), modRevision: r.revision }, { key: keys.instance(p, r.to), modRevision: 0 }, ...refs.compares],
    ops: [{ type: 'delete', key: keys.instance(p, r.from) }, { type: 'put', key: keys.instance(p, r.to), value: r.record }, ...refs.ops],
  };
}

/**
 * Compares and writes that make every record naming instance `from` name `to` (snapshot keys move too).
 * `upTo`: only records last written at or before that revision (the sweep after a rename leaves alone what a
 * new instance that took the old name wrote since).
 */
export async function referenceMoves(store: Store, project: string, from: string, to: string, upTo = Infinity): Promise<{ compares: Compare[]; ops: TxnOp[] }> {
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
  for (const kv of await store.list<{ instance?: string }>(keys.snapshots(project, from))) {
    move(kv, { ...kv.value, instance: to }, keys.snapshot(project, to, keyTail(keys.snapshots(project, from), kv.key)!));
  }
  for (const kv of await store.list<{ owner?: string; hostname?: string }>(keys.ipamOfProject(project))) {
    if (kv.value.owner === from) move(kv, { ...kv.value, owner: to, ...(kv.value.hostname === from ? { hostname: to } : {}) });
  }
  for (const kv of await store.list<{ attachedTo?: string | null }>(keys.volumeMetaOfProject(project))) {
    if (kv.value.attachedTo === from) move(kv, { ...kv.value, attachedTo: to });
  }
  for (const kv of await store.list<{ instance?: string }>(keys.forwardsOfProject(project))) {
    if (kv.value.instance === from) move(kv, { ...kv.value, instance: to });
  }
  // Id slots are host-global; only records from before UUID owners (all in 'default') name their instance.
  for (const prefix of project === DEFAULT_PROJECT ? [keys.idmaps, keys.vmids] : []) {
    for (const kv of await store.list<{ owner?: string }>(prefix)) {
      if (kv.value.owner === from) move(kv, { ...kv.value, owner: to });
    }
  }
  return { compares, ops };
}
