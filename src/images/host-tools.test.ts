import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { compareVersions, moduleLoadOrder, parseLdd, parseShowDepends, pickKernelVersion, stageModules } from './host-tools.js';
import { FakeExec } from '../host/fake-exec.js';

test('pickKernelVersion: newest kernel that also has modules', () => {
  const boot = ['config-6.1.0-9-amd64', 'vmlinuz-6.1.0-9-amd64', 'vmlinuz-6.1.0-56-amd64', 'vmlinuz-6.12.1-amd64', 'initrd.img-6.1.0-56-amd64'];
  assert.equal(pickKernelVersion(boot, ['6.1.0-9-amd64', '6.1.0-56-amd64']), '6.1.0-56-amd64');
  assert.equal(pickKernelVersion(boot, ['6.12.1-amd64', '6.1.0-56-amd64']), '6.12.1-amd64');
  assert.equal(pickKernelVersion(boot, []), undefined);
  assert.ok(compareVersions('6.1.0-9-amd64', '6.1.0-10-amd64') < 0);
});

test('parseShowDepends: insmod lines in order, builtins skipped', () => {
  const out = 'builtin crc32c\ninsmod /lib/modules/k/kernel/drivers/virtio/virtio_ring.ko \ninsmod /lib/modules/k/kernel/drivers/virtio/virtio.ko.xz opt=1\n';
  assert.deepEqual(parseShowDepends(out), ['/lib/modules/k/kernel/drivers/virtio/virtio_ring.ko', '/lib/modules/k/kernel/drivers/virtio/virtio.ko.xz']);
});

test('moduleLoadOrder: merges dependency lists without duplicates', async () => {
  const fake = new FakeExec()
    .on(['modprobe', '-S', 'k', '--show-depends', 'virtio_net'], { stdout: 'insmod /m/virtio_ring.ko\ninsmod /m/virtio.ko\ninsmod /m/virtio_net.ko\n' })
    .on(['modprobe', '-S', 'k', '--show-depends', 'virtio_blk'], { stdout: 'insmod /m/virtio_ring.ko\ninsmod /m/virtio.ko\ninsmod /m/virtio_blk.ko\n' })
    .on(['modprobe', '-S', 'k', '--show-depends', 'nope'], { code: 1, stderr: 'modprobe: FATAL: Module nope not found' });
  assert.deepEqual(await moduleLoadOrder(fake, 'k', ['virtio_net', 'virtio_blk']), ['/m/virtio_ring.ko', '/m/virtio.ko', '/m/virtio_net.ko', '/m/virtio_blk.ko']);
  await assert.rejects(moduleLoadOrder(fake, 'k', ['nope']), { code: 'NotFound' });
});

test('parseLdd: libraries and the loader, not the vdso', () => {
  const out = `\tlinux-vdso.so.1 (0x00007ffd)
\tlibtomcrypt.so.1 => /lib/x86_64-linux-gnu/libtomcrypt.so.1 (0x00007f01)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f02)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f03)
`;
  assert.deepEqual(parseLdd(out), ['/lib/x86_64-linux-gnu/libtomcrypt.so.1', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
  assert.deepEqual(parseLdd('\tnot a dynamic executable\n'), []);
});

test('stageModules: compressed modules are decompressed at build time, names end in .ko', async () => {
  const d = await mkdtemp(join(tmpdir(), 'qh2-mods-'));
  try {
    const src = ['a.ko', 'b.ko.xz', 'c.ko.zst'].map((f) => join(d, f));
    for (const f of src) await writeFile(f, 'x');
    const exec = new FakeExec();
    const out = join(d, 'out');
    assert.deepEqual(await stageModules(exec, src, out), ['a.ko', 'b.ko', 'c.ko']);
    assert.deepEqual(exec.lines(), [`xz -d -f ${out}/b.ko.xz`, `zstd -d -q -f --rm ${out}/c.ko.zst`]);
    assert.deepEqual((await readdir(out)).sort(), ['a.ko', 'b.ko.xz', 'c.ko.zst']); // the fake does not decompress
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});
