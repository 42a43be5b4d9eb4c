import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { TestDaemon, makeSshKey, sshUntil, systemSkipReason } from './harness.js';

const skip = systemSkipReason();

interface Inst {
  name: string;
  state: string;
  accelerator: string;
  arch: string;
  addresses: string[];
}

// One daemon boots an aarch64 tiny VM (TCG) to SSH; a second, whose aarch64 emulator is configured to a
// missing program, shows the refusal. Both start together so the test stays short.
describe('other architectures: an aarch64 VM under TCG', { skip }, () => {
  let d: TestDaemon;
  let noEmu: TestDaemon;
  let key: { dir: string; key: string; pub: string };

  before(async () => {
    [d, noEmu, key] = await Promise.all([
      TestDaemon.start(),
      TestDaemon.start(['--qemu-binary', 'aarch64=/nonexistent/qemu-system-aarch64']),
      makeSshKey(),
    ]);
  });
  after(async () => {
    await Promise.all([d?.cleanup(), noEmu?.cleanup()]);
    if (key) rmSync(key.dir, { recursive: true, force: true });
  });

  test('launch tiny-aarch64: built from Debian arm64 packages on first use, boots to SSH, uname -m says aarch64', async () => {
    const r = await d.cli('launch', 'tiny-aarch64', 'arm1', '--arch', 'aarch64', '--ssh-key', `${key.key}.pub`, '--memory', '256MiB', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    const info = await d.cliJson<Inst>('info', 'arm1');
    assert.equal(info.arch, 'aarch64');
    assert.equal(info.accelerator, 'tcg');
    assert.equal(info.state, 'running');
    await d.waitConsole('arm1', /NIMBO-READY arm1/, 180_000);
    const out = await sshUntil(key.key, info.addresses[0]!, 90_000, 'uname -m; hostname');
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, 'aarch64\narm1\n');
    const images = await d.cliJson<{ name: string; arch: string; status: string }[]>('image', 'list');
    assert.deepEqual(images.map((i) => [i.name, i.arch, i.status]), [['tiny-aarch64', 'aarch64', 'ready']]);
    const list = await d.cli('list');
    assert.match(list.stdout, /^arm1 .* aarch64$/m, 'the list shows the ARCH column once an instance is not x86_64');
    const host = (await d.api('GET', '/host')).body as { arch: string; guestArches: { arch: string; missing: unknown[] }[] };
    assert.equal(host.arch, 'x86_64');
    assert.deepEqual(host.guestArches.map((a) => [a.arch, a.missing.length]), [['x86_64', 0], ['aarch64', 0], ['riscv64', 0]]);
  });

  test('the arm64 qemu-guest-agent answers: exec runs in the guest, and a snapshot of the running VM is application-consistent', async () => {
    let ex = await d.cli('exec', 'arm1', '--', 'uname', '-m');
    for (const end = Date.now() + 60_000; ex.code !== 0 && Date.now() < end; ex = await d.cli('exec', 'arm1', '--', 'uname', '-m')) {
      await new Promise((r) => setTimeout(r, 1000)); // qemu-ga starts after the ready marker
    }
    assert.equal(ex.code, 0, ex.stderr);
    assert.equal(ex.stdout, 'aarch64\n');
    const s = await d.cli('snapshot', 'create', 'arm1', 's1', '--quiet');
    assert.equal(s.code, 0, s.stderr);
    const snaps = await d.cliJson<{ name: string; consistency?: string }[]>('snapshot', 'list', 'arm1');
    assert.equal(snaps.find((x) => x.name === 's1')?.consistency, 'application', JSON.stringify(snaps));
    const del = await d.cli('snapshot', 'delete', 'arm1', 's1', '--quiet');
    assert.equal(del.code, 0, del.stderr);
  });

  test('refused before anything is made: an image of another architecture, and an arch whose emulator is missing', async () => {
    const mismatch = await d.api('POST', '/instances', { name: 'bad1', image: 'tiny-aarch64', arch: 'riscv64' });
    assert.equal(mismatch.status, 400);
    assert.match(mismatch.body.error.message, /image tiny-aarch64 is built for aarch64, not riscv64/);
    const missing = await noEmu.api('POST', '/instances', { name: 'bad2', image: 'tiny-aarch64', arch: 'aarch64' });
    assert.equal(missing.status, 409);
    assert.match(missing.body.error.message, /emulator \/nonexistent\/qemu-system-aarch64 is not installed \(Debian package qemu-system-arm\)/);
    const host = (await noEmu.api('GET', '/host')).body as { guestArches: { arch: string; missing: { pkg: string }[] }[] };
    assert.deepEqual(host.guestArches.find((a) => a.arch === 'aarch64')?.missing.map((m) => m.pkg), ['qemu-system-arm']);
    for (const x of [d, noEmu]) {
      const names = (await x.cliJson<Inst[]>('list')).map((i) => i.name);
      assert.ok(!names.includes('bad1') && !names.includes('bad2'), `nothing was made: ${names.join(', ')}`);
    }
    assert.deepEqual((await noEmu.cliJson<unknown[]>('image', 'list')).length, 0, 'the refusal built no image either');
  });

  test('an imported disk says which architecture it is for: --arch on import and upload, x86_64 by default; launches follow it', async () => {
    const disk = join(d.stateDir, 'images', 'tiny-aarch64', 'disk.qcow2');
    const imp = await d.cli('image', 'import', disk, '--name', 'arm-disk', '--arch', 'aarch64', '--quiet');
    assert.equal(imp.code, 0, imp.stderr);
    const up = await d.cli('image', 'upload', disk, '--name', 'rv-disk', '--arch', 'riscv64', '--quiet');
    assert.equal(up.code, 0, up.stderr);
    const plain = await d.cli('image', 'import', disk, '--name', 'plain-disk', '--quiet');
    assert.equal(plain.code, 0, plain.stderr);
    const images = new Map((await d.cliJson<{ name: string; arch: string }[]>('image', 'list')).map((i) => [i.name, i.arch]));
    assert.deepEqual([images.get('arm-disk'), images.get('rv-disk'), images.get('plain-disk')], ['aarch64', 'riscv64', 'x86_64']);
    const wrong = await d.api('POST', '/instances', { name: 'bad3', image: 'arm-disk', arch: 'x86_64' });
    assert.equal(wrong.status, 400);
    assert.match(wrong.body.error.message, /image arm-disk is built for aarch64, not x86_64/);
    const badArch = await d.api('POST', '/images/import', { name: 'x', path: disk, arch: 'sparc64' });
    assert.equal(badArch.status, 400);
    for (const n of ['arm-disk', 'rv-disk', 'plain-disk']) assert.equal((await d.cli('image', 'delete', n, '--quiet')).code, 0);
  });

  test('delete the aarch64 VM', async () => {
    const r = await d.cli('delete', 'arm1', '--force', '--quiet');
    assert.equal(r.code, 0, r.stderr);
  });
});
