// `--disk` on a container: a quota on its root volume where the pool can enforce one (btrfs:
// a qgroup limit on the subvolume holding the overlay's upper layer), a refusal that creates
// nothing where it cannot (a dir pool). The btrfs filesystem is a loop device this test makes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TestDaemon, systemSkipReason } from './harness.js';
import { RealExec } from '../../src/host/exec.js';
import { makeLoopFs, type ScratchFs } from '../../src/drivers/storage/testing/loop-fs.js';

const skip = systemSkipReason() ?? (existsSync('/usr/sbin/runc') ? undefined : 'runc is not installed (run scripts/setup.sh)');
const MiB = 1024 * 1024;

interface Inst { name: string; state: string; disk: number }
interface Vol { name: string; size: number; attachedTo: string | null }

describe('container --disk: enforced by a btrfs qgroup, refused on a pool without quotas', { skip }, () => {
  let d: TestDaemon;
  let fs: ScratchFs | undefined;
  const run = async (...args: string[]) => {
    const r = await d.cli(...args);
    assert.equal(r.code, 0, `nimbo ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    d = await TestDaemon.start();
    fs = await makeLoopFs(new RealExec(), 'btrfs', 512 * MiB, `qcd${d.prefix}`);
    chmodSync(fs.dir, 0o755);
    chmodSync(dirname(fs.dir), 0o755);
    await run('storage', 'pool', 'create', 'bt', '--driver', 'btrfs', '--path', join(fs.dir, 'pool'), '--quiet');
    await run('image', 'build', 'tiny', '--quiet');
  });
  after(async () => {
    await d?.cleanup(fs ? [fs.dir] : []);
    await fs?.cleanup(); // the loop device and its qgroups go with the filesystem
  });

  test('on btrfs: writing past --disk fails inside the container (EDQUOT); a resize raises the limit', async () => {
    await run('launch', 'tiny', 'qd1', '--container', '--pool', 'bt', '--disk', '40MiB', '--memory', '64MiB', '--quiet');
    assert.equal((await d.cliJson<Inst>('info', 'qd1')).disk, 40 * MiB);
    const small = await d.cli('exec', 'qd1', '--', 'dd', 'if=/dev/zero', 'of=/root/small', 'bs=1M', 'count=8', 'conv=fsync');
    assert.equal(small.code, 0, small.stderr);
    const big = await d.cli('exec', 'qd1', '--', 'dd', 'if=/dev/zero', 'of=/root/big', 'bs=1M', 'count=80', 'conv=fsync');
    assert.notEqual(big.code, 0, 'a write past the quota must fail');
    assert.match(big.stdout + big.stderr, /quota exceeded|no space left/i);
    await run('exec', 'qd1', '--', 'rm', '-f', '/root/big');
    // The root volume's quota is the container's disk: growing it lets the same write through.
    const vols = await d.cliJson<Vol[]>('storage', 'volume', 'list', 'bt');
    const rootVol = vols.find((v) => v.attachedTo === 'qd1')!;
    assert.equal(rootVol.size, 40 * MiB);
    await run('storage', 'volume', 'resize', 'bt', rootVol.name, '160MiB', '--quiet');
    assert.equal((await d.cliJson<Inst>('info', 'qd1')).disk, 160 * MiB);
    const after = await d.cli('exec', 'qd1', '--', 'dd', 'if=/dev/zero', 'of=/root/big', 'bs=1M', 'count=80', 'conv=fsync');
    assert.equal(after.code, 0, after.stderr);
    await run('delete', 'qd1', '--force', '--quiet');
  });

  test('without --disk a container has no limit; --disk on a dir pool is refused and leaves nothing', async () => {
    const before = await d.cliJson<Vol[]>('storage', 'volume', 'list', 'default');
    const refused = await d.cli('launch', 'tiny', 'qd2', '--container', '--disk', '64MiB', '--memory', '64MiB', '--quiet');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /pool default \(dir driver\) cannot limit a container's disk .*use a btrfs pool, or omit --disk/);
    assert.equal((await d.api('GET', '/instances/qd2')).status, 404, 'no instance record');
    assert.deepEqual((await d.cliJson<Vol[]>('storage', 'volume', 'list', 'default')).map((v) => v.name), before.map((v) => v.name), 'no volume');
    await run('launch', 'tiny', 'qd3', '--container', '--pool', 'bt', '--memory', '64MiB', '--quiet');
    assert.equal((await d.cliJson<Inst>('info', 'qd3')).disk, 0);
    assert.match(await run('info', 'qd3'), /Disk:\s+no limit/);
    await run('exec', 'qd3', '--', 'dd', 'if=/dev/zero', 'of=/root/big', 'bs=1M', 'count=80', 'conv=fsync');
    await run('delete', 'qd3', '--force', '--quiet');
  });
});
