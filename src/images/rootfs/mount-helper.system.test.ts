import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealExec } from '../../host/exec.js';
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

test('inject and eject: a host directory bind-mounted into another mount namespace only', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-inj-'));
  const m = new MountHelper('python3', 200);
  const exec = new RealExec();
  const ns = spawn('unshare', ['-m', '--propagation', 'private', 'sleep', '60'], { stdio: 'ignore' });
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
    await m.eject(ns.pid!, target);
    const gone = await exec.run(['nsenter', '-t', String(ns.pid), '-m', 'cat', join(target, 'data')], { allowFailure: true });
    assert.notEqual(gone.code, 0);
    await assert.rejects(m.eject(ns.pid!, target), /umount2: Invalid argument/);
    await assert.rejects(m.inject(999_999_999, join(dir, 'vol'), target, 0), /No such file/);
  } finally {
    ns.kill('SIGKILL');
    m.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
