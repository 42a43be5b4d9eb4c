// Private images over the core fixture: made from a stopped VM (qemu-img convert through a recording exec
// that writes the file), seen and launched only in their project, ahead of a public image of the same name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { NimboError } from '../lib/errors.js';
import type { ExecResult, HostExec } from '../host/exec.js';
import { keys } from '../store/keys.js';
import { coreFixture } from './testing/core-fixture.js';
import { PrivateImages } from './private-images.js';

const P = 'default';

test('publish a stopped VM as a private image; launch it in its project only; delete it when unused', async () => {
  const t = await coreFixture();
  const converts: string[][] = [];
  const exec: HostExec = {
    run: async (argv): Promise<ExecResult> => {
      if (argv[0] === 'qemu-img' && argv[1] === 'convert') {
        converts.push(argv);
        writeFileSync(argv.at(-1)!, 'flattened disk');
      }
      return { code: 0, stdout: '', stderr: '' };
    },
  };
  const images = new PrivateImages({ ...t.runtime.d, exec }, t.images, t.repo, t.runtime, (ref) => t.instances.usersOf(ref));
  try {
    await t.launch({ name: 'vm1', image: 'tiny', start: false });
    await t.launch({ name: 'up', image: 'tiny' });
    await t.launch({ name: 'ct', image: 'tiny', type: 'container', start: false });
    await assert.rejects(images.publish(P, 'up', 'gold'), (e: NimboError) => e.code === 'Conflict' && /is running: stop it first/.test(e.message));
    await assert.rejects(images.publish(P, 'ct', 'gold'), /is a container: an image is made from a VM's disk/);
    await assert.rejects(images.publish(P, 'vm1', 'Bad Name'), /image name/);

    // Its disk counts against the disk quota: one GiB short of room for it is refused.
    const disk = Math.ceil((await t.repo.record(P, 'vm1')).disk / 1024 ** 3);
    await t.quotas.set(P, { diskGiB: (await t.quotas.show(P)).usage.diskGiB + disk - 1 });
    await assert.rejects(images.publish(P, 'vm1', 'gold'), (e: NimboError) => e.code === 'QuotaExceeded');
    await t.quotas.set(P, { diskGiB: null });
    const end = await t.wait(await images.publish(P, 'vm1', 'gold'));
    assert.equal(end.status, 'success', JSON.stringify(end.error));
    const root = (await t.runtime.specOf(await t.repo.record(P, 'vm1'))).root;
    assert.equal(converts.length, 1);
    assert.deepEqual(converts[0]!.slice(0, 7), ['qemu-img', 'convert', '-f', root.format ?? 'qcow2', '-O', 'qcow2', '--']);
    assert.equal(converts[0]![7], root.path);
    const rec = (await images.get(P, 'gold')).built!;
    assert.equal(statSync(rec.disk).mode & 0o777, 0o600, 'the disk is root\'s alone');
    assert.equal(statSync(dirname(rec.disk)).mode & 0o777, 0o700);
    assert.equal(rec.name, 'default/gold');
    await assert.rejects(images.publish(P, 'vm1', 'gold'), /image gold already exists in project default/);

    // Its project sees it and launches it; another project does neither.
    assert.deepEqual((await images.list(P)).map((i) => i.name), ['gold']);
    assert.deepEqual(await images.list('shop'), []);
    assert.equal(await t.images.resolve(P, 'gold'), 'default/gold');
    assert.equal(await t.images.resolve('shop', 'gold'), 'gold');
    const vm2 = await t.launch({ name: 'vm2', image: 'gold', start: false });
    assert.equal(vm2.image, 'default/gold');
    assert.equal((await t.instances.view(vm2)).image, 'gold', 'shown by its name in its project');
    await assert.rejects(t.instances.create('shop', { name: 'x', image: 'gold' }), (e: NimboError) => e.code === 'NotFound');

    // A private image comes before a public one of the same name, in its project only.
    assert.equal((await t.wait(await images.publish(P, 'vm1', 'tiny'))).status, 'success');
    assert.equal((await t.launch({ name: 'vm3', image: 'tiny', start: false })).image, 'default/tiny');
    assert.equal((await t.launch({ name: 'vm4', image: 'tiny', start: false }, 'shop')).image, 'tiny');

    // In use: kept; unused: gone with its files.
    await assert.rejects(images.remove(P, 'gold'), /image gold is used by vm2/);
    assert.equal((await t.wait(await t.actions.remove(P, 'vm2', true))).status, 'success');
    assert.equal((await t.wait(await images.remove(P, 'gold'))).status, 'success');
    assert.equal(existsSync(rec.dir), false);
    assert.equal(await t.store.get(keys.privateImage(P, 'gold')), undefined);
    assert.equal(await t.store.get(keys.quotaCharge('image/default/gold')), undefined, 'its disk charge went with it');
  } finally {
    await t.done();
  }
});
