// Quota charges that change after a create: CPUs and memory (PATCH), disk growth (root and data volumes),
// new volumes and clones. Over the quota the change is refused and nothing changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NimboError } from '../../lib/errors.js';
import { coreFixture } from '../testing/core-fixture.js';
import { updateOf } from '../testing/vps-fixture.js';

const P = 'default';
const over = (field: RegExp) => (e: unknown) => e instanceof NimboError && e.code === 'QuotaExceeded' && field.test(e.message);

test('quota: CPU and memory changes, grown disks, new volumes and clones are charged; over the quota nothing changes', async () => {
  const t = await coreFixture();
  try {
    await t.quotas.set(P, { vcpus: 3, memoryMiB: 1024, diskGiB: 10 });
    const a = await t.launch({ name: 'a', image: 'tiny', type: 'container', cpus: 1, memory: '256MiB', disk: '2GiB', start: false });
    const usage = async () => (({ vcpus, memoryMiB, diskGiB }) => ({ vcpus, memoryMiB, diskGiB }))((await t.quotas.show(P)).usage);
    assert.deepEqual(await usage(), { vcpus: 1, memoryMiB: 256, diskGiB: 2 });

    // CPUs and memory (PATCH and resize): charged before the record changes.
    const update = updateOf(t);
    await assert.rejects(update.patch(P, 'a', { cpus: 4 }), over(/quota of 3 vCPUs: 1 in use and 3 more asked/));
    await assert.rejects(update.patch(P, 'a', { memory: '2GiB' }), over(/MiB of memory/));
    assert.deepEqual([(await t.repo.record(P, 'a')).cpus, (await usage()).vcpus], [1, 1], 'refused: record and usage as they were');
    await update.patch(P, 'a', { cpus: 3, memory: '512MiB' });
    assert.deepEqual(await usage(), { vcpus: 3, memoryMiB: 512, diskGiB: 2 });
    await update.patch(P, 'a', { name: 'a2', cpus: 2 });
    assert.deepEqual([(await t.repo.record(P, 'a2')).cpus, (await usage()).vcpus], [2, 2], 'a rename with new CPUs is charged too');

    // A new volume: refused at once when it does not fit; counted while it exists.
    await assert.rejects(t.storage.createVolume(P, 'default', { name: 'big', size: '9GiB' }), over(/quota of 10 GiB of disk: 2 in use and 9 more asked/));
    assert.equal((await t.wait(await t.storage.createVolume(P, 'default', { name: 'data', size: '5GiB' }))).status, 'success');
    assert.equal((await usage()).diskGiB, 7);
    const again = await t.wait(await t.storage.createVolume(P, 'default', { name: 'data', size: '1GiB' }));
    assert.deepEqual([again.error?.code, (await usage()).diskGiB], ['Conflict', 7], 'a taken name leaves the existing charge alone');
    // A clone counts the full size: 5 more do not fit.
    await assert.rejects(t.storage.clone(P, 'default', 'data', { target: 'data2' }), over(/7 in use and 5 more asked/));
    await assert.rejects(t.storage.volume(P, 'default', 'data2'), /not found|does not exist/i);
    assert.equal((await usage()).diskGiB, 7);

    // Growing: the root volume counts in its instance's charge, a data volume in its own.
    const root = a.root!;
    assert.equal((await t.wait(await t.volumes.patchVolume(P, root.pool, root.volume, { size: '4GiB' }))).status, 'success');
    assert.equal((await usage()).diskGiB, 9);
    const grow = await t.wait(await t.volumes.patchVolume(P, 'default', 'data', { size: '8GiB' }));
    assert.equal(grow.error?.code, 'QuotaExceeded');
    assert.equal((await t.storage.volume(P, 'default', 'data')).size, 5 * 1024 ** 3, 'refused: the volume did not grow');
    assert.equal((await usage()).diskGiB, 9);

    // A rename keeps the charge with the volume; a delete gives it back.
    assert.equal((await t.wait(await t.volumes.patchVolume(P, 'default', 'data', { name: 'data3' }))).status, 'success');
    assert.equal((await t.wait(await t.storage.deleteVolume(P, 'default', 'data3'))).status, 'success');
    assert.equal((await usage()).diskGiB, 4);
    assert.equal((await t.wait(await t.actions.remove(P, 'a2', true))).status, 'success');
    assert.deepEqual(await usage(), { vcpus: 0, memoryMiB: 0, diskGiB: 0 });
    assert.deepEqual(await t.store.list('/quota-charges/'), [], 'no charge is left behind');
  } finally {
    await t.done();
  }
});
