import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { TestDaemon, makeSshKey, sshUntil, ssh, systemSkipReason } from './harness.js';
import { RealExec, runArgv } from '../../src/host/exec.js';
import { makeLoopFs, type ScratchFs } from '../../src/drivers/storage/testing/loop-fs.js';

function ok(r: { code: number; stderr: string }): void {
  assert.equal(r.code, 0, r.stderr);
}

interface PoolView {
  name: string;
  driver: string;
  format: string;
  size: number;
  provisioned: number;
  overProvisioning: number;
  volumes: number;
  capabilities: { reflink?: boolean };
}

describe('storage pools on XFS (raw + reflink) and btrfs through the API and CLI', { skip: systemSkipReason() }, () => {
  let d: TestDaemon;
  let key: { dir: string; key: string; pub: string };
  const fs: ScratchFs[] = [];
  let scratch = '';

  before(async () => {
    d = await TestDaemon.start();
    key = await makeSshKey();
    scratch = mkdtempSync(join(tmpdir(), 'nimbo-sp-'));
    chmodSync(scratch, 0o755);
    for (const t of ['xfs', 'btrfs'] as const) {
      const f = await makeLoopFs(new RealExec(), t, 1024 ** 3, `qsp${d.prefix}`);
      fs.push(f);
      const unreachable = await d.cli('storage', 'pool', 'create', `x${t}`, '--driver', t === 'xfs' ? 'dir' : 'btrfs', '--path', join(f.dir, 'pool'));
      assert.match(unreachable.stderr, /not searchable by others \(chmod o\+x/, 'the temp parent is 0700');
      chmodSync(f.dir, 0o755);
      chmodSync(dirname(f.dir), 0o755);
    }
    ok(await d.cli('image', 'build', 'tiny', '--quiet'));
    ok(await d.cli('launch', 'tiny', 'p1', '--ssh-key', `${key.key}.pub`, '--memory', '256MiB', '--quiet'));
  });
  after(async () => {
    await d?.cleanup();
    for (const f of fs) await f.cleanup();
    if (key) rmSync(key.dir, { recursive: true, force: true });
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  test('create pools with each driver; bad ones are refused and leave nothing', async () => {
    ok(await d.cli('storage', 'pool', 'create', 'fast', '--driver', 'dir', '--format', 'raw', '--path', join(fs[0]!.dir, 'pool'), '--quiet'));
    ok(await d.cli('storage', 'pool', 'create', 'bt', '--driver', 'btrfs', '--path', join(fs[1]!.dir, 'pool'), '--quiet'));
    const raw = await d.cli('storage', 'pool', 'create', 'noreflink', '--driver', 'dir', '--format', 'raw', '--path', join(scratch, 'p'));
    const onTmpfs = (await runArgv(['stat', '-f', '-c', '%T', scratch])).stdout.trim();
    if (!['xfs', 'btrfs'].includes(onTmpfs)) {
      assert.notEqual(raw.code, 0, 'raw needs reflinks');
      assert.match(raw.stderr, /reflink/i);
    }
    const bad = await d.cli('storage', 'pool', 'create', 'notbtrfs', '--driver', 'btrfs', '--path', join(scratch, 'b'));
    assert.notEqual(bad.code, 0);
    const pools = await d.cliJson<PoolView[]>('storage', 'pool', 'list');
    assert.deepEqual(pools.map((p) => p.name).sort(), (raw.code === 0 ? ['bt', 'default', 'fast', 'noreflink'] : ['bt', 'default', 'fast']));
    const fast = pools.find((p) => p.name === 'fast')!;
    assert.equal(fast.format, 'raw');
    assert.equal(fast.capabilities.reflink, true);
    assert.ok(fast.size > 900 * 1024 ** 2 && fast.size <= 1024 ** 3, String(fast.size));
  });

  test('thin volumes over-provision a pool; its info says by how much', async () => {
    ok(await d.cli('storage', 'volume', 'create', 'fast', 'big', '--size', '4GiB', '--quiet'));
    const fast = await d.cliJson<PoolView>('storage', 'pool', 'info', 'fast');
    assert.equal(fast.provisioned, 4 * 1024 ** 3);
    assert.ok(fast.overProvisioning > 3.9, String(fast.overProvisioning));
    const refused = await d.cli('storage', 'pool', 'delete', 'fast');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /holds volumes/);
  });

  test('raw (XFS) and btrfs volumes hot-plug into a running VM and keep their data across clone', async () => {
    const addr = (await d.cliJson<{ addresses: string[] }>('info', 'p1')).addresses[0]!;
    assert.equal((await sshUntil(key.key, addr, 90_000, 'true')).code, 0);
    for (const pool of ['fast', 'bt']) {
      ok(await d.cli('storage', 'volume', 'create', pool, 'v1', '--size', '40MiB', '--quiet'));
      ok(await d.cli('storage', 'volume', 'attach', 'p1', pool, 'v1', '--quiet'));
      let dev = '';
      for (let i = 0; i < 30 && !dev; i++) {
        const r = await ssh(key.key, addr, 'for x in /sys/block/vd*; do [ $(cat $x/size) = 81920 ] && basename $x; done; true');
        dev = r.stdout.trim();
        if (!dev) await new Promise((r) => setTimeout(r, 1000));
      }
      assert.match(dev, /^vd[a-z]$/);
      ok(await ssh(key.key, addr, `printf POOL-${pool} > /dev/${dev} && sync`));
      ok(await d.cli('storage', 'volume', 'detach', 'p1', pool, 'v1', '--quiet'));
      ok(await d.cli('storage', 'volume', 'clone', pool, 'v1', 'v2', '--quiet'));
      ok(await d.cli('storage', 'volume', 'attach', 'p1', pool, 'v2', '--quiet'));
      let read = '';
      for (let i = 0; i < 30 && read !== `POOL-${pool}`; i++) {
        read = (await ssh(key.key, addr, `for x in /sys/block/vd*; do [ $(cat $x/size) = 81920 ] && head -c ${5 + pool.length} /dev/$(basename $x); done; true`)).stdout;
        if (read !== `POOL-${pool}`) await new Promise((r) => setTimeout(r, 1000));
      }
      assert.equal(read, `POOL-${pool}`);
      ok(await d.cli('storage', 'volume', 'detach', 'p1', pool, 'v2', '--quiet'));
    }
  });

  test('export and import round-trip a volume', async () => {
    const file = join(scratch, 'v1.qcow2');
    ok(await d.cli('storage', 'volume', 'export', 'bt', 'v1', file, '--format', 'qcow2', '--quiet'));
    assert.ok(existsSync(file));
    ok(await d.cli('storage', 'volume', 'import', 'default', file, '--name', 'from-bt', '--quiet'));
    const v = await d.cliJson<{ size: number; format: string }>('storage', 'volume', 'info', 'default', 'from-bt');
    assert.equal(v.size, 40 * 1024 ** 2);
    assert.equal(v.format, 'qcow2');
    const again = await d.cli('storage', 'volume', 'export', 'bt', 'v1', file);
    assert.notEqual(again.code, 0, 'an export never overwrites');
  });

  test('a system container and a VM take their root volumes from the pool given at launch (btrfs: a subvolume)', { skip: existsSync('/usr/sbin/runc') || process.env.CI === 'true' ? undefined : 'runc is not installed' }, async () => {
    const missing = await d.cli('launch', 'tiny', 'nopool', '--container', '--pool', 'nosuch');
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /nosuch/);
    assert.equal((await d.api('GET', '/instances/nopool')).status, 404, 'a refused launch leaves no instance');
    ok(await d.cli('launch', 'tiny', 'btct', '--container', '--pool', 'bt', '--memory', '64MiB', '--quiet'));
    await d.waitConsole('btct', /NIMBO-READY btct/, 60_000);
    const btRoot = await d.rootVolumeOf('btct');
    const root = join(fs[1]!.dir, 'pool', 'filesystems', btRoot);
    const show = await runArgv(['btrfs', 'subvolume', 'show', root], { allowFailure: true });
    assert.equal(show.code, 0, `the root volume is a btrfs subvolume: ${show.stderr}`);
    assert.equal((await d.cli('exec', 'btct', '--', 'sh', '-c', 'echo on-btrfs > /root/f')).code, 0);
    const vols = (await d.api('GET', '/storage/pools/bt/volumes')).body.volumes as { name: string; attachedTo: string | null }[];
    assert.deepEqual(vols.filter((v) => v.name === btRoot).map((v) => v.attachedTo), ['btct']);
    ok(await d.cli('delete', 'btct', '--force', '--quiet'));
    assert.equal(existsSync(root), false, 'the subvolume goes with the container');
    ok(await d.cli('launch', 'tiny', 'rawvm', '--pool', 'fast', '--ssh-key', `${key.key}.pub`, '--memory', '256MiB', '--quiet'));
    const addr = (await d.api('GET', '/instances/rawvm')).body.addresses[0] as string;
    assert.match((await sshUntil(key.key, addr, 120_000, 'echo up')).stdout, /up/);
    const rawVols = (await d.api('GET', '/storage/pools/fast/volumes')).body.volumes as { name: string; format: string }[];
    const rawRoot = await d.rootVolumeOf('rawvm');
    assert.deepEqual(rawVols.filter((v) => v.name === rawRoot).map((v) => v.format), ['raw']);
    ok(await d.cli('delete', 'rawvm', '--force', '--quiet'));
  });

  test('pools are deleted once empty', async () => {
    for (const [pool, vols] of [['fast', ['big', 'v1', 'v2']], ['bt', ['v1', 'v2']]] as const) {
      for (const v of vols) ok(await d.cli('storage', 'volume', 'delete', pool, v, '--quiet'));
      ok(await d.cli('storage', 'pool', 'delete', pool, '--quiet'));
    }
    const del = await d.cli('storage', 'pool', 'delete', 'default');
    assert.notEqual(del.code, 0);
  });
});
