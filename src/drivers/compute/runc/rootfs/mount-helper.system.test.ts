import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealExec } from '../../../../host/exec.js';
import { MountHelper } from './mount-helper.js';

const skip = process.getuid?.() === 0 ? undefined : 'needs root (mounts)';

test('idmapped mounts: owners shown in the range, errors name the call, one server for many requests', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-idm-'));
  const m = new MountHelper('python3', 200);
  const exec = new RealExec();
  try {
    mkdirSync(join(dir, 'src/home'), { recursive: true });
    writeFileSync(join(dir, 'src/home/f'), 'x');
    chownSync(join(dir, 'src/home/f'), 1000, 1000);
    for (const [i, host] of [3_100_000, 3_300_000].entries()) {
      const dst = join(dir, `dst${i}`);
      mkdirSync(dst);
      await m.idmap(join(dir, 'src'), dst, { hostId: host, size: 65536 });
      assert.equal(statSync(join(dst, 'home/f')).uid, host + 1000);
      assert.equal(statSync(dst).uid, host);
      await exec.run(['umount', dst]);
    }
    assert.equal(statSync(join(dir, 'src/home/f')).uid, 1000, 'the tree itself is untouched');
    await assert.rejects(m.idmap(join(dir, 'nosuch'), join(dir, 'dst0'), { hostId: 3_100_000, size: 65536 }), /open_tree: No such file/);
    // After an error the server still answers.
    await m.idmap(join(dir, 'src'), join(dir, 'dst0'), { hostId: 3_100_000, size: 65536 });
    await exec.run(['umount', join(dir, 'dst0')]);
  } finally {
    m.close();
    for (const d of ['dst0', 'dst1']) await exec.run(['umount', join(dir, d)], { allowFailure: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A process that runs argv in the mount namespace of `pid` (nsenter), killed by the test. */
function inNs(pid: number, script: string) {
  return spawn('nsenter', ['-t', String(pid), '-m', 'sh', '-c', script], { stdio: 'ignore' });
}

test('inject (nosuid,nodev) and detach: never lazy, refused while a process holds the volume, copies taken out too', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-inj-'));
  const m = new MountHelper('python3', 200);
  const exec = new RealExec();
  const ns = spawn('unshare', ['-m', '--propagation', 'private', 'sleep', '60'], { stdio: 'ignore' });
  const kids: ReturnType<typeof spawn>[] = [];
  try {
    mkdirSync(join(dir, 'vol'));
    writeFileSync(join(dir, 'vol/data'), 'from the host\n');
    await new Promise((r) => setTimeout(r, 200));
    const target = join(dir, 'inside/a/b');
    await m.inject(ns.pid!, join(dir, 'vol'), target, 3_100_000);
    const seen = await exec.run(['nsenter', '-t', String(ns.pid), '-m', 'cat', join(target, 'data')]);
    assert.equal(seen.stdout, 'from the host\n');
    assert.equal(existsSync(join(target, 'data')), false, 'the host namespace does not see the mount');
    assert.equal(statSync(join(dir, 'inside/a')).uid, 3_100_000, 'directories made for it belong to the given owner');
    const line = readFileSync(`/proc/${ns.pid}/mountinfo`, 'utf8').split('\n').find((l) => l.split(' ')[4] === target) ?? '';
    assert.match(line.split(' ')[5] ?? '', /(^|,)nosuid(,|$)/, line);
    assert.match(line.split(' ')[5] ?? '', /(^|,)nodev(,|$)/, line);
    assert.deepEqual((await m.volumeMounts(join(dir, 'vol'))).map((x) => x.mountPoint), [target]);
    // The "container" makes a copy of the mount; a process sits with its working directory in it.
    await exec.run(['nsenter', '-t', String(ns.pid), '-m', 'sh', '-c', `mkdir -p ${dir}/copy && mount --bind ${target} ${dir}/copy`]);
    const holder = inNs(ns.pid!, `cd ${dir}/copy && exec sleep 60`);
    kids.push(holder);
    await new Promise((r) => setTimeout(r, 300));
    const busy = await m.detach(join(dir, 'vol')).then(() => null, (e: unknown) => e as Error & { code?: string });
    assert.ok(busy, 'the detach is refused while a process holds the volume');
    assert.equal(busy.code, 'Conflict');
    assert.match(busy.message, new RegExp(`\\(sleep, host pid ${holder.pid}\\) has its working directory`), busy.message);
    assert.equal((await m.volumeMounts(join(dir, 'vol'))).length, 2, 'a refused detach unmounts nothing');
    // An open file holds it too.
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    const reader = inNs(ns.pid!, `exec 3<${target}/data; exec sleep 60`);
    kids.push(reader);
    await new Promise((r) => setTimeout(r, 300));
    await assert.rejects(m.detach(join(dir, 'vol')), new RegExp(`host pid ${reader.pid}\\b.*an open file`));
    reader.kill('SIGKILL');
    await new Promise((r) => reader.once('exit', r));
    // A file opened there, kept by a process that moved on to a namespace without the volume: still named.
    const mover = inNs(ns.pid!, `exec 3<${target}/data; exec unshare -m --propagation private sh -c 'umount ${target} ${dir}/copy; exec sleep 60'`);
    kids.push(mover);
    await new Promise((r) => setTimeout(r, 400));
    await assert.rejects(m.detach(join(dir, 'vol')), /\(sleep, host pid \d+\) has an open file there/);
    mover.kill('SIGKILL');
    await new Promise((r) => mover.once('exit', r));
    // Nothing holds it: every copy goes, for real (no lazily detached tree left behind).
    await m.detach(join(dir, 'vol'));
    assert.deepEqual(await m.volumeMounts(join(dir, 'vol')), []);
    for (const p of [target, `${dir}/copy`]) {
      const gone = await exec.run(['nsenter', '-t', String(ns.pid), '-m', 'cat', join(p, 'data')], { allowFailure: true });
      assert.notEqual(gone.code, 0, p);
    }
    await m.detach(join(dir, 'vol')); // idempotent
    await assert.rejects(m.inject(999_999_999, join(dir, 'vol'), target, 0), /No such file/);
  } finally {
    for (const k of kids) k.kill('SIGKILL');
    ns.kill('SIGKILL');
    m.close();
    await new Promise((r) => setTimeout(r, 200));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('shiftTree and mkdirsInRoot never follow a symlink out of the tree', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-walk-'));
  const m = new MountHelper('python3', 200);
  try {
    const root = join(dir, 'root');
    const host = join(dir, 'host');
    mkdirSync(join(root, 'etc/deep'), { recursive: true });
    mkdirSync(host);
    writeFileSync(join(host, 'secret'), 'host\n');
    writeFileSync(join(root, 'etc/deep/f'), 'x');
    writeFileSync(join(root, 'suid'), 'x');
    chmodSync(join(root, 'suid'), 0o4755);
    chownSync(join(root, 'etc/deep/f'), 1000, 1000);
    symlinkSync(host, join(root, 'escape'));
    symlinkSync(join(host, 'secret'), join(root, 'etc/deep/file-link'));
    const s = { hostId: 3_200_000, size: 65536 };
    const n = await m.shiftTree(root, '.', s);
    assert.equal(n, 7, 'root, etc, deep, f, suid and the two links');
    assert.equal(statSync(join(root, 'etc/deep/f')).uid, s.hostId + 1000);
    assert.equal(lstatSync(join(root, 'escape')).uid, s.hostId, 'the link itself is shifted');
    assert.equal(statSync(join(root, 'suid')).mode & 0o7777, 0o4755, 'setuid kept');
    for (const p of [host, join(host, 'secret')]) assert.equal(statSync(p).uid, 0, `${p} is untouched`);
    // Through a symlink as the starting point: resolved inside the root (root/<host>, absent) or refused.
    await assert.rejects(m.shiftTree(root, 'escape', s), /No such file/);
    assert.equal(await m.shiftTree(root, 'etc', s), 0);
    // mkdir -p through planted links lands inside the root.
    rmSync(join(root, 'escape'));
    symlinkSync(join(host, 'made'), join(root, '.nimbo'));
    symlinkSync('../../../../../../..', join(root, 'up'));
    await m.mkdirsInRoot(root, '.nimbo/seed', 3_200_000);
    await m.mkdirsInRoot(root, 'up/x/y', 3_200_000);
    assert.deepEqual(readdirSync(host), ['secret'], 'nothing made on the host');
    assert.equal(statSync(join(root, host, 'made/seed')).uid, 3_200_000, 'made inside the root, owned by the container');
    assert.ok(statSync(join(root, 'x/y')).isDirectory());
    writeFileSync(join(root, 'plain'), '');
    await assert.rejects(m.mkdirsInRoot(root, 'plain/sub', 0), /not a directory/i);
  } finally {
    m.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
