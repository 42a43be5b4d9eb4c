import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coreFixture, type CoreFixture } from '../testing/core-fixture.js';
import { makeBackups } from '../../daemon/backup-wiring.js';
import type { Backup } from '../../shared/backup-types.js';

const PASS = 'a long enough passphrase';

async function setup() {
  const t = await coreFixture();
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-bk-unit-'));
  const b = makeBackups({ base: t.runtime.d, runtime: t.runtime, repo: t.repo, provisioner: t.provisioner, views: t.views, nics: t.nics, actions: t.actions }).api;
  const done = async () => {
    await t.done();
    rmSync(dir, { recursive: true, force: true });
  };
  return { t, dir, b, done };
}

const ok = async (t: CoreFixture, op: Promise<{ id: string }>) => {
  const end = await t.wait(await op);
  assert.equal(end.status, 'success', JSON.stringify(end.error));
  return end.result as Backup;
};

test('VM backups: full, then incremental reading only the dirty blocks; scoped to the project', async () => {
  const { t, dir, b, done } = await setup();
  try {
    await b.stores.create({ name: 'bk', path: join(dir, 's1') });
    const vm = await t.launch({ name: 'vm1', image: 'tiny', start: true });
    const full = await ok(t, b.service.create('default', 'vm1', { store: 'bk' }));
    assert.equal(full.mode, 'full');
    assert.equal(full.consistency, 'crash-consistent');
    assert.equal(full.stats.bytesRead, 64 * 1024, 'only the one non-zero block of the fake disk was read');
    t.qemu.disks.write(vm.uuid, 5 * 1024 * 1024, Buffer.alloc(100_000, 7));
    const inc = await ok(t, b.service.create('default', 'vm1', { store: 'bk' }));
    assert.equal(inc.mode, 'incremental');
    assert.equal(inc.stats.bytesRead, 2 * 64 * 1024, 'the two 64 KiB blocks the write touched');
    const forced = await ok(t, b.service.create('default', 'vm1', { store: 'bk', full: true }));
    assert.equal(forced.mode, 'full');
    assert.deepEqual((await b.service.list('default')).map((x) => x.id), [forced.id, inc.id, full.id], 'newest first');
    // Another project sees none of them and cannot name one.
    assert.deepEqual(await b.service.list('other'), []);
    await assert.rejects(b.service.get('other', full.id), { code: 'NotFound' });
    await assert.rejects(b.service.remove('other', full.id), { code: 'NotFound' });
    await assert.rejects(b.service.get('default', '../../etc'), { code: 'InvalidArgument' });
  } finally {
    await done();
  }
});

test('prune keeps what the policy says (dry run removes nothing); gc then reclaims the chunks', async () => {
  const { t, dir, b, done } = await setup();
  try {
    await b.stores.create({ name: 'bk', path: join(dir, 's1') });
    const vm = await t.launch({ name: 'vm1', image: 'tiny', start: false });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      t.qemu.disks.write(vm.uuid, i * 1024 * 1024, Buffer.alloc(70_000, i + 1));
      ids.push((await ok(t, b.service.create('default', 'vm1', { store: 'bk' }))).id);
    }
    const dry = await b.maintenance.prune('bk', { keepLast: 1 }, { project: 'default', dryRun: true });
    assert.deepEqual(dry.keep.map((k) => k.id), [ids[2]]);
    assert.deepEqual(dry.remove.map((r) => r.id).sort(), [ids[0], ids[1]].sort());
    assert.equal((await b.service.list('default')).length, 3, 'a dry run removes nothing');
    await assert.rejects(b.maintenance.prune('bk', {}, { project: 'default' }), { code: 'InvalidArgument' });
    const chunks = () => readdirSync(join(dir, 's1', 'chunks')).reduce((n, p) => n + readdirSync(join(dir, 's1', 'chunks', p)).length, 0);
    const before = chunks();
    await b.maintenance.prune('bk', { keepLast: 1 }, { project: 'default' });
    assert.deepEqual((await b.service.list('default')).map((x) => x.id), [ids[2]]);
    const young = await t.wait(await b.maintenance.gc('bk'));
    assert.equal((young.result as { removed: number }).removed, 0, 'chunks younger than the grace period stay');
    assert.equal(chunks(), before);
    const gc = await t.wait(await b.maintenance.gc('bk', { graceMs: 0 }));
    assert.equal(gc.status, 'success', JSON.stringify(gc.error));
    assert.ok((gc.result as { removed: number }).removed > 0);
    assert.equal(chunks(), before - (gc.result as { removed: number }).removed);
    const v = await t.wait(await b.maintenance.verify('bk'));
    assert.equal((v.result as { ok: boolean }).ok, true, JSON.stringify(v.result));
  } finally {
    await done();
  }
});

test('stores: an encrypted one needs a passphrase; a wrong one cannot attach it and writes nothing; bad paths are refused', async () => {
  const { b, dir, done } = await setup();
  try {
    await assert.rejects(b.stores.create({ name: 'e', path: join(dir, 'e'), encrypt: true }), { message: /needs a passphrase/ });
    const rec = await b.stores.create({ name: 'e', path: join(dir, 'e'), encrypt: true, passphrase: PASS });
    assert.equal(rec.encrypted, true);
    assert.match(rec.keyFingerprint ?? '', /^[0-9a-f]+/);
    await b.stores.remove('e');
    const files = readdirSync(join(dir, 'e')).sort();
    await assert.rejects(b.stores.create({ name: 'e2', path: join(dir, 'e'), passphrase: 'not the right one' }), { message: /wrong passphrase/ });
    assert.deepEqual(readdirSync(join(dir, 'e')).sort(), files);
    await assert.rejects(b.stores.get('e2'), { code: 'NotFound' });
    const again = await b.stores.create({ name: 'e2', path: join(dir, 'e'), passphrase: PASS });
    assert.equal(again.keyFingerprint, rec.keyFingerprint, 'attached with its own key');
    for (const path of ['/', '/etc', '/usr', join(dir, 'missing-parent', 'x')]) {
      await assert.rejects(b.stores.create({ name: 'bad', path }), { code: 'InvalidArgument' }, path);
    }
    await assert.rejects(b.stores.create({ name: 'dup', path: join(dir, 'e') }), { code: 'Conflict' });
  } finally {
    await done();
  }
});
