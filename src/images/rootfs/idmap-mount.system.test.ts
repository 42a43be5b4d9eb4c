import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealExec } from '../../host/exec.js';
import { IdmapMounter } from './idmap-mount.js';

const skip = process.getuid?.() === 0 ? undefined : 'needs root (mounts)';

test('idmapped mounts: owners shown in the range, errors name the call, one server for many requests', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-idm-'));
  const m = new IdmapMounter('python3', 200);
  const exec = new RealExec();
  try {
    mkdirSync(join(dir, 'src/home'), { recursive: true });
    writeFileSync(join(dir, 'src/home/f'), 'x');
    chownSync(join(dir, 'src/home/f'), 1000, 1000);
    for (const [i, host] of [3_100_000, 3_300_000].entries()) {
      const dst = join(dir, `dst${i}`);
      mkdirSync(dst);
      await m.mount(join(dir, 'src'), dst, { hostId: host, size: 65536 });
      assert.equal(statSync(join(dst, 'home/f')).uid, host + 1000);
      assert.equal(statSync(dst).uid, host);
      await exec.run(['umount', dst]);
    }
    assert.equal(statSync(join(dir, 'src/home/f')).uid, 1000, 'the tree itself is untouched');
    await assert.rejects(m.mount(join(dir, 'nosuch'), join(dir, 'dst0'), { hostId: 3_100_000, size: 65536 }), /open_tree: No such file/);
    // After an error the server still answers.
    await m.mount(join(dir, 'src'), join(dir, 'dst0'), { hostId: 3_100_000, size: 65536 });
    await exec.run(['umount', join(dir, 'dst0')]);
  } finally {
    m.close();
    for (const d of ['dst0', 'dst1']) await exec.run(['umount', join(dir, d)], { allowFailure: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
