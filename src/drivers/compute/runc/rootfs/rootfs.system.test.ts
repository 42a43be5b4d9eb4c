// System test (root only): the tiny image → its tree → two user-namespaced container roots
// (overlay + metacopy, different id ranges); isolation, no data copied, remount after an
// unmount, boot of busybox init under runc with the seed as a directory, clean removal.
// Plus an MBR disk (like debian-12's) with hard links, device nodes and setuid files, and the
// copy-mode fallback. Everything lives in a per-run temp dir named qh5-rootfs-*.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readdirSync } from 'node:fs';
import { appendFile, chmod, chown, link, lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { RealExec } from '../../../../host/exec.js';
import { buildTinyImage } from '../../../../images/tiny.js';
import { renderSeed } from '../../../../images/seed.js';
import { extractImageTree, imageTreeDir } from '../../../../images/rootfs/index.js';
import {
  CONTAINER_SEED_DIR, ensureContainerRoot, isContainerRootMounted, makeContainerRoot,
  readMounts, removeContainerRoot, renderSeedDir, shiftTree, unmountContainerRoot,
} from './index.js';

const NEEDED = ['/usr/bin/qemu-img', '/usr/sbin/losetup', '/usr/sbin/sfdisk', '/usr/sbin/blkid', '/usr/sbin/mke2fs',
  '/usr/sbin/dropbear', '/usr/bin/cpio'];
const missing = [
  ...NEEDED.filter((p) => !existsSync(p)),
  ...(existsSync('/bin/busybox') ? [] : ['/bin/busybox']),
  ...(existsSync('/boot') && readdirSync('/boot').some((f) => f.startsWith('vmlinuz-')) ? [] : ['/boot/vmlinuz-*']),
];
const skip = process.getuid?.() !== 0 ? 'needs root' : missing.length ? `missing ${missing.join(', ')}` : false;
const RUNC = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));
const exec = new RealExec();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const duKiB = async (p: string) => Number((await exec.run(['du', '-sk', p])).stdout.split('\t')[0]);
const mountsUnder = async (dir: string) => (await readMounts()).filter((m) => m.mountPoint.startsWith(dir));
const loopsOf = async (dir: string) => (await exec.run(['losetup', '-a'])).stdout.split('\n').filter((l) => l.includes(dir));

/** Best-effort cleanup of anything left under dir: container roots, runc state, mounts, files. */
async function cleanup(dir: string, workDirs: string[], runcRoot?: string, ctId?: string): Promise<void> {
  if (RUNC && runcRoot && ctId) await exec.run([RUNC, '--root', runcRoot, 'delete', '-f', ctId], { allowFailure: true });
  for (const w of workDirs) await removeContainerRoot(exec, w).catch(() => {});
  for (const m of (await mountsUnder(dir)).reverse()) await exec.run(['umount', '-l', m.mountPoint], { allowFailure: true });
  await rm(dir, { recursive: true, force: true });
}

function runcConfig(rootfs: string, seedDir: string, hostId: number): object {
  const caps = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
    'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_NET_ADMIN', 'CAP_SYS_CHROOT', 'CAP_MKNOD',
    'CAP_AUDIT_WRITE', 'CAP_SETFCAP', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT'];
  const map = [{ containerID: 0, hostID: hostId, size: 65536 }];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false, user: { uid: 0, gid: 0 }, cwd: '/', args: ['/sbin/init'],
      env: ['PATH=/sbin:/usr/sbin:/bin:/usr/bin', 'container=nimbo', 'TERM=vt100'],
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: false,
    },
    root: { path: rootfs, readonly: false },
    hostname: 'qh5-spec-name',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: CONTAINER_SEED_DIR, type: 'bind', source: seedDir, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] },
    ],
    linux: {
      uidMappings: map, gidMappings: map,
      namespaces: ['pid', 'network', 'ipc', 'uts', 'mount', 'user'].map((type) => ({ type })),
      maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

test('container roots from the tiny image: shifted overlays, isolated, no data copied, boot under runc, clean removal',
  { skip, timeout: 240_000 }, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'qh5-rootfs-'));
    const a = { work: join(dir, 'ct-a'), shift: { hostId: 3_000_000, size: 65536 } };
    const b = { work: join(dir, 'ct-b'), shift: { hostId: 3_200_000, size: 65536 } };
    const runcRoot = join(dir, 'runc-state');
    const ctId = `qh5-rootfs-${process.pid}`;
    try {
      // runc's init runs as the container's root (host id hostId): it must be able to
      // traverse the path to rootfs (mkdtemp makes 0700).
      await chmod(dir, 0o711);
      const img = await buildTinyImage({ exec, outDir: join(dir, 'image') });
      const tree = await extractImageTree(exec, img, imageTreeDir(img));
      t.diagnostic(`extract tiny tree: ${tree.ms} ms`);
      assert.equal(tree.reused, false);
      assert.equal((await extractImageTree(exec, img, imageTreeDir(img))).reused, true, 'the tree is cached');
      assert.deepEqual(await loopsOf(dir), [], 'loop device released');
      assert.deepEqual(await mountsUnder(dir), [], 'image unmounted');
      assert.equal((await stat(imageTreeDir(img))).mode & 0o777, 0o700, 'host users cannot reach the tree');
      const bb = await lstat(join(tree.root, 'bin/busybox'));
      assert.ok(bb.isFile() && bb.uid === 0 && (bb.mode & 0o777) === 0o755);
      assert.equal(await readlink(join(tree.root, 'bin/sh')), '/bin/busybox');
      assert.equal((await stat(join(tree.root, 'tmp'))).mode & 0o7777, 0o1777);
      assert.equal((await stat(join(tree.root, 'etc/shadow'))).mode & 0o777, 0o600);
      // A large file in the image: a shift must not copy its data.
      const big = join(tree.root, 'usr/share/big.bin');
      await mkdir(join(tree.root, 'usr/share'), { recursive: true });
      await writeFile(big, Buffer.alloc(48 * 1024 * 1024, 0x5a));
      const treeBefore = await duKiB(tree.root);

      const ra = await makeContainerRoot(exec, tree.root, a.work, a.shift);
      const rb = await makeContainerRoot(exec, tree.root, b.work, b.shift, { mode: 'overlay' });
      t.diagnostic(`container root a (overlay over an idmapped tree): ${ra.ms} ms; b (overlay+metacopy, shift of ${rb.shifted} entries): ${rb.ms} ms`);
      assert.equal(ra.mode, 'idmap', `idmapped mounts work on this host: ${ra.fallbackReason ?? ''}`);
      assert.equal(ra.shifted, 0, 'an idmapped root changes no owner');
      assert.equal(rb.mode, 'overlay');
      for (const [r, s] of [[ra, a.shift], [rb, b.shift]] as const) {
        const st = await stat(join(r.rootfs, 'bin/busybox'));
        assert.equal(st.uid, s.hostId);
        assert.equal(st.gid, s.hostId);
        assert.equal((await lstat(join(r.rootfs, 'bin/sh'))).uid, s.hostId, 'symlinks shifted too');
        assert.equal((await stat(r.rootfs)).uid, s.hostId, 'the root directory itself');
        assert.equal((await stat(join(r.rootfs, 'tmp'))).mode & 0o7777, 0o1777);
        assert.equal((await stat(join(r.rootfs, CONTAINER_SEED_DIR))).uid, s.hostId, 'seed mount point');
        assert.equal(await shiftTree(r.rootfs, s), 0, 'every entry is already in range');
        assert.equal((await stat(join(r.rootfs, 'usr/share/big.bin'))).size, 48 * 1024 * 1024);
      }
      assert.equal((await stat(join(tree.root, 'bin/busybox'))).uid, 0, 'the tree is untouched');
      const uA = await duKiB(join(a.work, 'upper'));
      const uB = await duKiB(join(b.work, 'upper'));
      t.diagnostic(`upper dirs after the shift: ${uA} KiB, ${uB} KiB (tree ${treeBefore} KiB)`);
      assert.ok(uA < 4096 && uB < 4096, `no file data copied up (${uA} KiB, ${uB} KiB)`);
      assert.equal(await duKiB(tree.root), treeBefore);

      // Writes stay in their container.
      await writeFile(join(ra.rootfs, 'root/hello'), 'from a\n');
      await appendFile(join(ra.rootfs, 'etc/hostname'), 'changed-in-a\n');
      assert.equal(existsSync(join(rb.rootfs, 'root/hello')), false);
      assert.equal(existsSync(join(tree.root, 'root/hello')), false);
      assert.equal(await readFile(join(rb.rootfs, 'etc/hostname'), 'utf8'), 'nimbo-tiny\n');
      assert.equal(await readFile(join(tree.root, 'etc/hostname'), 'utf8'), 'nimbo-tiny\n');

      // Daemon restart / reboot: the mount comes back, nothing is shifted again.
      await unmountContainerRoot(exec, a.work);
      await unmountContainerRoot(exec, a.work);
      assert.equal(await isContainerRootMounted(a.work), false);
      const again = await ensureContainerRoot(exec, a.work);
      assert.equal(again.shifted, 0);
      assert.equal(await isContainerRootMounted(a.work), true);
      assert.equal((await ensureContainerRoot(exec, a.work)).shifted, 0, 'ensure is idempotent');
      assert.equal((await mountsUnder(a.work)).length, 2, 'mounted once: the idmapped tree and the overlay over it');
      assert.equal(await readFile(join(ra.rootfs, 'root/hello'), 'utf8'), 'from a\n');
      assert.equal((await makeContainerRoot(exec, tree.root, a.work, a.shift)).shifted, 0, 'make is idempotent');
      await assert.rejects(makeContainerRoot(exec, tree.root, a.work, b.shift), /already holds/);

      if (RUNC) {
        // busybox init as the container's PID 1 in a user namespace, seed from a directory.
        await exec.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'qh5', '-f', join(dir, 'key')]);
        const pub = await readFile(join(dir, 'key.pub'), 'utf8');
        const seedDir = join(a.work, 'seed');
        await renderSeedDir(renderSeed({ instanceId: `qh5-${process.pid}`, hostname: 'qh5-ct-a', sshKeys: [pub], nics: [] }),
          seedDir, { uid: a.shift.hostId, gid: a.shift.hostId });
        await writeFile(join(a.work, 'config.json'), JSON.stringify(runcConfig(ra.rootfs, seedDir, a.shift.hostId), null, 2));
        const log = join(dir, 'ct-a.log');
        const fd = openSync(log, 'w');
        const t0 = Date.now();
        try {
          const code = await new Promise<number | null>((res, rej) => {
            const p = spawn(RUNC, ['--root', runcRoot, 'run', '-d', '--bundle', a.work, ctId], { stdio: ['ignore', fd, fd] });
            p.once('error', rej);
            p.once('exit', res);
          });
          assert.equal(code, 0, await readFile(log, 'utf8'));
        } finally {
          closeSync(fd);
        }
        let out = '';
        while (!/^NIMBO-READY /m.test(out) && Date.now() - t0 < 30_000) {
          await sleep(50);
          out = await readFile(log, 'utf8');
        }
        t.diagnostic(`runc run → NIMBO-READY: ${Date.now() - t0} ms`);
        assert.deepEqual(out.split('\n').filter((l) => l.startsWith('NIMBO-READY')), ['NIMBO-READY qh5-ct-a'], out);
        const res = await exec.run([RUNC, '--root', runcRoot, 'exec', ctId, '/bin/sh', '-c',
          'hostname; id -u; cat /root/.ssh/authorized_keys; pidof dropbear >/dev/null && echo dropbear-up; ls /dev/ttyS0 2>&1 | wc -l'],
        { timeoutMs: 20_000 });
        const lines = res.stdout.split('\n');
        assert.equal(lines[0], 'qh5-ct-a');
        assert.equal(lines[1], '0');
        assert.equal(lines[2], pub.trim());
        assert.match(res.stdout, /\ndropbear-up\n/);
        assert.equal((await stat(join(ra.rootfs, 'root/.ssh/authorized_keys'))).uid, a.shift.hostId);
        assert.doesNotMatch(out, /can't open/, 'no getty respawn loop on a missing ttyS0');
        // busybox init's poweroff (SIGUSR2): shutdown actions, then the PID namespace ends.
        await exec.run([RUNC, '--root', runcRoot, 'kill', ctId, 'USR2']);
        const t1 = Date.now();
        let state = '';
        while (Date.now() - t1 < 20_000) {
          state = (await exec.run([RUNC, '--root', runcRoot, 'state', ctId], { allowFailure: true })).stdout;
          if (!state || /"status": "stopped"/.test(state)) break;
          await sleep(100);
        }
        t.diagnostic(`poweroff: ${Date.now() - t1} ms`);
        assert.match(state, /"status": "stopped"/);
        await exec.run([RUNC, '--root', runcRoot, 'delete', ctId]);
      } else {
        t.diagnostic('runc not installed: boot under runc skipped');
      }

      await removeContainerRoot(exec, a.work);
      await removeContainerRoot(exec, b.work);
      await removeContainerRoot(exec, b.work);
      assert.deepEqual(await mountsUnder(dir), [], 'nothing mounted');
      assert.deepEqual((await readFile('/proc/mounts', 'utf8')).split('\n').filter((l) => l.includes(dir)), []);
      for (const w of [a.work, b.work]) {
        for (const f of ['upper', 'work', 'rootfs', 'nimbo-root.json']) assert.equal(existsSync(join(w, f)), false, f);
      }
      await assert.rejects(ensureContainerRoot(exec, a.work), /not found/);
    } finally {
      await cleanup(dir, [a.work, b.work], runcRoot, ctId);
    }
  });

test('extract an MBR disk (qcow2 and raw) faithfully; copy-mode container root', { skip, timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'qh5-rootfs-mbr-'));
  const work = join(dir, 'ct');
  const workOv = join(dir, 'ct-ov');
  try {
    const stage = join(dir, 'stage');
    await mkdir(join(stage, 'usr/bin'), { recursive: true });
    await mkdir(join(stage, 'dev'));
    await mkdir(join(stage, 'home/user'), { recursive: true });
    await writeFile(join(stage, 'usr/bin/tool'), 'tool\n', { mode: 0o755 });
    await chmod(join(stage, 'usr/bin/tool'), 0o4755);
    await link(join(stage, 'usr/bin/tool'), join(stage, 'usr/bin/tool-alias'));
    await symlink('tool', join(stage, 'usr/bin/tool-link'));
    await exec.run(['mknod', '-m', '666', join(stage, 'dev/null'), 'c', '1', '3']);
    await writeFile(join(stage, 'home/user/file'), 'mine\n');
    await chown(join(stage, 'home/user/file'), 1000, 1000);
    await chown(join(stage, 'home/user'), 1000, 1000);
    const raw = join(dir, 'disk.raw');
    await writeFile(raw, '');
    await truncate(raw, 64 * 1024 * 1024);
    await exec.run(['sfdisk', '-q', '--no-reread', '--no-tell-kernel', raw], { input: 'label: dos\nunit: sectors\n\nstart=2048, type=83, bootable\n' });
    await exec.run(['mke2fs', '-q', '-F', '-t', 'ext4', '-E', 'offset=1048576', '-d', stage, raw, `${63 * 1024}k`]);
    const qcow = join(dir, 'disk.qcow2');
    await exec.run(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', raw, qcow]);

    for (const [disk, format] of [[qcow, 'qcow2'], [raw, 'raw']] as const) {
      const tree = await extractImageTree(exec, { disk, format }, join(dir, `tree-${format}`));
      t.diagnostic(`extract MBR ${format}: ${tree.ms} ms`);
      const r = tree.root;
      const tool = await lstat(join(r, 'usr/bin/tool'));
      assert.equal(tool.mode & 0o7777, 0o4755, 'setuid kept');
      assert.equal((await lstat(join(r, 'usr/bin/tool-alias'))).ino, tool.ino, 'hard link kept');
      assert.equal(await readlink(join(r, 'usr/bin/tool-link')), 'tool');
      const dev = await lstat(join(r, 'dev/null'));
      assert.ok(dev.isCharacterDevice() && dev.rdev === (1 << 8 | 3), 'device node kept');
      assert.equal((await lstat(join(r, 'home/user/file'))).uid, 1000);
      assert.ok(existsSync(join(r, 'lost+found')), 'the whole ext4 root');
    }
    assert.deepEqual(await loopsOf(dir), []);
    assert.deepEqual(await mountsUnder(dir), []);

    const shift = { hostId: 3_400_000, size: 65536 };
    const root = await makeContainerRoot(exec, join(dir, 'tree-qcow2', 'root'), work, shift, { mode: 'copy' });
    assert.equal(root.mode, 'copy');
    assert.equal(await isContainerRootMounted(work), false);
    const tool = await lstat(join(root.rootfs, 'usr/bin/tool'));
    assert.equal(tool.uid, shift.hostId);
    assert.equal(tool.mode & 0o7777, 0o4755, 'setuid restored after chown');
    assert.equal((await lstat(join(root.rootfs, 'home/user/file'))).uid, shift.hostId + 1000);
    assert.equal((await lstat(join(root.rootfs, 'dev/null'))).uid, shift.hostId);
    assert.equal((await lstat(join(dir, 'tree-qcow2/root/home/user/file'))).uid, 1000, 'tree untouched');
    assert.equal((await ensureContainerRoot(exec, work)).shifted, 0);
    await removeContainerRoot(exec, work);
    assert.equal(existsSync(join(work, 'rootfs')), false);

    // The same through an idmapped tree: nothing shifted, setuid bits kept, device nodes, other owners.
    const im = await makeContainerRoot(exec, join(dir, 'tree-qcow2', 'root'), workOv, shift);
    assert.equal(im.mode, 'idmap');
    assert.equal((await lstat(join(im.rootfs, 'usr/bin/tool'))).mode & 0o7777, 0o4755);
    assert.equal((await lstat(join(im.rootfs, 'usr/bin/tool'))).uid, shift.hostId);
    assert.equal((await lstat(join(im.rootfs, 'home/user/file'))).uid, shift.hostId + 1000);
    assert.ok((await lstat(join(im.rootfs, 'dev/null'))).isCharacterDevice());
    await removeContainerRoot(exec, workOv);
    assert.deepEqual(await mountsUnder(dir), []);

    // The same through overlay + metacopy: setuid bits, device nodes, other owners.
    const ov = await makeContainerRoot(exec, join(dir, 'tree-qcow2', 'root'), workOv, shift, { mode: 'overlay' });
    assert.equal(ov.mode, 'overlay');
    const otool = await lstat(join(ov.rootfs, 'usr/bin/tool'));
    assert.equal(otool.uid, shift.hostId);
    assert.equal(otool.mode & 0o7777, 0o4755, 'setuid restored after chown');
    assert.equal((await lstat(join(ov.rootfs, 'home/user/file'))).uid, shift.hostId + 1000);
    assert.equal(await readFile(join(ov.rootfs, 'home/user/file'), 'utf8'), 'mine\n');
    assert.ok((await lstat(join(ov.rootfs, 'dev/null'))).isCharacterDevice());
    await removeContainerRoot(exec, workOv);
    assert.deepEqual(await mountsUnder(dir), []);
  } finally {
    await cleanup(dir, [work, workOv]);
  }
});
