import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { FakeExec } from '../host/fake-exec.js';
import { RealExec } from '../host/exec.js';
import { makeBootableDisk } from './debian12.js';
import { pickDebianMirror, renderDebianFiles, renderGrubCfg } from './debian12-files.js';

test('pickDebianMirror: deb822, one-line, fallback', () => {
  const deb822 = 'Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\n\n' +
    'Types: deb\n# comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n';
  assert.equal(pickDebianMirror([deb822]), 'http://mirror.example/debian');
  assert.equal(pickDebianMirror(['# x\ndeb [arch=amd64] http://ftp.de.debian.org/debian bookworm main contrib\n']), 'http://ftp.de.debian.org/debian');
  assert.equal(pickDebianMirror(['deb http://security.debian.org/debian-security bookworm-security main\n', '']), 'http://deb.debian.org/debian');
});

test('debian files: units wired, seed script parses (sh -n), grub boots /vmlinuz on ttyS0', async () => {
  const files = renderDebianFiles('NIMBO-READY', 'http://deb.debian.org/debian');
  assert.match(files['etc/systemd/system/nimbo-ready.service']!.content, /After=nimbo-seed.service ssh.service network-online.target/);
  assert.match(files['etc/systemd/system/nimbo-ready.service']!.content, /echo "NIMBO-READY \$\(hostname\)" > \/dev\/ttyS0/);
  assert.match(files['etc/systemd/system/nimbo-seed.service']!.content, /Before=network-pre.target systemd-networkd.service ssh.service/);
  assert.equal(files['usr/local/sbin/nimbo-seed']!.mode, 0o755);
  // System containers: the seed directory instead of the cidata disk, the marker on the console log,
  // no growing or remounting of a root that is the host's overlay.
  const seed = files['usr/local/sbin/nimbo-seed']!.content;
  assert.match(seed, /if systemd-detect-virt --container --quiet; then\n  \[ -d \/\.nimbo\/seed\/nimbo \] && \{ SEED=\/\.nimbo\/seed; found=dir; \}\nelse/);
  assert.match(seed, /\[ "\$found" = dir \] \|\| umount "\$SEED"/);
  assert.match(files['etc/systemd/system/nimbo-ready.service']!.content, /then echo "NIMBO-READY \$\(hostname\)" >> \/\.nimbo\/console; else/);
  assert.match(files['etc/systemd/system/nimbo-growfs.service']!.content, /^ConditionVirtualization=!container$/m);
  assert.equal(files['etc/systemd/system/systemd-remount-fs.service.d/nimbo.conf']!.content, '[Unit]\nConditionVirtualization=!container\n');
  assert.match(renderGrubCfg('U-1'), /^linux \/vmlinuz root=UUID=U-1 ro console=tty0 console=ttyS0,115200n8 quiet$/m);
  if (existsSync('/bin/sh')) {
    for (const p of ['usr/local/sbin/nimbo-seed', 'usr/local/sbin/nimbo-growfs']) {
      const res = await new RealExec().run(['/bin/sh', '-n'], { input: files[p]!.content, allowFailure: true });
      assert.equal(res.code, 0, res.stderr);
    }
  }
});

test('makeBootableDisk: MBR, ext4 at 1 MiB from the tree, then boot.img (440 bytes) and core.img', async () => {
  const d = await mkdtemp(join(tmpdir(), 'qh2-deb-'));
  try {
    const root = join(d, 'root');
    await mkdir(join(root, 'boot/grub/i386-pc'), { recursive: true });
    await writeFile(join(root, 'boot/grub/i386-pc/core.img'), Buffer.alloc(40_000));
    const exec = new FakeExec();
    const raw = join(d, 'disk.raw');
    await makeBootableDisk(exec, root, raw, 'u-u-i-d', 64 * 1024 * 1024);
    assert.equal((await stat(raw)).size, 64 * 1024 * 1024);
    assert.deepEqual(exec.lines(), [
      `sfdisk -q --no-reread --no-tell-kernel ${raw}`,
      `mke2fs -q -F -t ext4 -L nimbo-root -U u-u-i-d -E offset=1048576 -d ${root} ${raw} 64512k`,
      `dd if=${root}/usr/lib/grub/i386-pc/boot.img of=${raw} bs=440 count=1 conv=notrunc status=none`,
      `dd if=${root}/boot/grub/i386-pc/core.img of=${raw} bs=512 seek=1 conv=notrunc status=none`,
    ]);
    assert.equal(exec.calls[0]!.input, 'label: dos\nunit: sectors\n\nstart=2048, type=83, bootable\n');
    await writeFile(join(root, 'boot/grub/i386-pc/core.img'), Buffer.alloc(2_000_000));
    await assert.rejects(makeBootableDisk(exec, root, raw, 'u', 64 * 1024 * 1024), /core.img too big/);
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});
