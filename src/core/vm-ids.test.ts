import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { allocateVmId, firstFreeSlot, isVmId, releaseVmId, runAsOf, VM_ID_BASE, VM_ID_COUNT } from './vm-ids.js';
import { ID_BASE, ID_SIZE } from '../drivers/compute/runc/container-info.js';
import { ID_RANGE_SLOTS } from './instance-ids.js';

function withStore(fn: (s: SqliteStore) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmids-'));
    const s = new SqliteStore(join(dir, 'state.db'));
    try {
      await fn(s);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('the VM id range is disjoint from every container range, root, nobody and 2^31', () => {
  const lastContainerId = ID_BASE + ID_RANGE_SLOTS * ID_SIZE - 1; // id-range slots n < ID_RANGE_SLOTS
  assert.ok(VM_ID_BASE > lastContainerId);
  assert.ok(VM_ID_BASE + VM_ID_COUNT - 1 < 2 ** 31 - 1);
  assert.equal(isVmId(0), false);
  assert.equal(isVmId(65534), false);
  assert.equal(isVmId(ID_BASE), false);
  assert.equal(isVmId(VM_ID_BASE), true);
  assert.equal(isVmId(VM_ID_BASE + VM_ID_COUNT), false);
  assert.equal(runAsOf(VM_ID_BASE + 7), '2000000007:2000000007');
});

test('firstFreeSlot skips taken slots and reports exhaustion', () => {
  assert.equal(firstFreeSlot(new Set()), 0);
  assert.equal(firstFreeSlot(new Set([0, 1, 3])), 2);
  assert.equal(firstFreeSlot(new Set([0, 1, 3]), 3), 4);
  assert.equal(firstFreeSlot(new Set(Array.from({ length: VM_ID_COUNT }, (_, i) => i))), undefined);
});

test('allocate: distinct ids, also under concurrency; a released id is reused', withStore(async (s) => {
  const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => allocateVmId(s, `vm${i}`)));
  assert.equal(new Set(ids).size, 20, `no id given twice: ${ids.join(',')}`);
  assert.ok(ids.every(isVmId));
  assert.deepEqual([...ids].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => VM_ID_BASE + i));
  await releaseVmId(s, VM_ID_BASE + 5);
  assert.equal(await allocateVmId(s, 'again'), VM_ID_BASE + 5);
  assert.deepEqual((await s.get('/vmids/5'))?.value, { owner: 'again' });
  await releaseVmId(s, undefined); // a record without an id (container, or a VM from before per-VM ids)
  await releaseVmId(s, 12345); // not ours: ignored
  assert.equal((await s.list('/vmids/')).length, 20);
}));

test('allocate refuses when every VM id is taken', withStore(async (s) => {
  await s.txn([], Array.from({ length: VM_ID_COUNT }, (_, n) => ({ type: 'put' as const, key: `/vmids/${n}`, value: { owner: 'x' } })));
  await assert.rejects(allocateVmId(s, 'one-too-many'), (e: Error & { code?: string }) => e.code === 'Conflict' && /no free QEMU user id/.test(e.message));
}));

