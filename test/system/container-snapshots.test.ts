// Snapshots and copies of system containers (and a VM copy) on a real daemon: snapshot a
// running container (frozen meanwhile), restore it stopped, copy it to a new name with its own
// address and id range, and leave nothing behind (mounts, volumes, snapshot dirs).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TestDaemon, systemSkipReason } from './harness.js';
import { runArgv } from '../../src/host/exec.js';

const skip = systemSkipReason() ?? (existsSync('/usr/sbin/runc') ? undefined : 'runc is not installed (run scripts/setup.sh)');

interface Inst { name: string; type: string; state: string; addresses: string[]; pid?: number | null }

/** The uid a running VM's QEMU runs as. */
const qemuUid = (pid: number) => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

describe('container snapshots and copies on a real daemon (runc)', { skip }, () => {
  let d: TestDaemon;
  const run = async (...args: string[]) => {
    const r = await d.cli(...args);
    assert.equal(r.code, 0, `nimbo ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const runcRoot = () => join(d.stateDir, 'run', 'runc');
  // runc ids and root volumes come from instance UUIDs: looked up once (also known after a delete).
  const ids = new Map<string, string>();
  const idOf = async (name: string) => {
    if (!ids.has(name)) ids.set(name, await d.idOf(name));
    return ids.get(name)!;
  };
  const rootOf = async (name: string) => `root-${await idOf(name)}`;
  const runcState = async (name: string) => {
    const r = await runArgv(['runc', '--root', runcRoot(), 'state', `${d.prefix}-${await idOf(name)}`], { allowFailure: true });
    return r.code === 0 ? (JSON.parse(r.stdout) as { status: string; pid: number }) : null;
  };
  const exec = async (name: string, script: string) => {
    const r = await d.cli('exec', name, '--', 'sh', '-c', script);
    assert.equal(r.code, 0, `exec ${name} ${script}: ${r.stderr}`);
    return r.stdout;
  };
  const uidMap = async (name: string) => {
    const st = await runcState(name);
    assert.ok(st && st.pid > 0, `${name} runs`);
    return readFileSync(`/proc/${st.pid}/uid_map`, 'utf8').trim().split(/\s+/).map(Number);
  };
  const pool = () => join(d.stateDir, 'pools', 'default');
  const cleanups: (() => void)[] = [];
  const mountsOfRun = () => readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(d.stateDir));

  before(async () => {
    d = await TestDaemon.start();
    await run('image', 'build', 'tiny', '--quiet');
  });
  after(async () => {
    for (const c of cleanups) c();
    await d?.cleanup();
  });

  test('snapshot a running container, change it, restore it stopped: the old content is back', async () => {
    await run('launch', 'tiny', 'sc1', '--container', '--memory', '64MiB', '--quiet');
    await d.waitConsole('sc1', /NIMBO-READY sc1/, 60_000);
    await exec('sc1', 'echo before > /root/data.txt; sync');
    await run('snapshot', 'create', 'sc1', 's1', '--quiet');
    assert.equal((await runcState('sc1'))?.status, 'running', 'resumed after the snapshot');
    const snaps = await d.cliJson<{ name: string; stateful: boolean }[]>('snapshot', 'list', 'sc1');
    assert.deepEqual(snaps.map((s) => s.name), ['s1']);
    // The snapshot is a copy of the volume without the mounted rootfs: the change is in its overlay upper.
    const snapDir = join(pool(), 'snapshots', await rootOf('sc1'), 's1');
    assert.ok(existsSync(join(snapDir, 'upper', 'root', 'data.txt')));
    assert.deepEqual(readdirSync(join(snapDir, 'rootfs')), [], 'the mounted rootfs was not entered');
    const stateful = await d.cli('snapshot', 'create', 'sc1', 's2', '--stateful', '--quiet');
    assert.notEqual(stateful.code, 0);
    assert.match(stateful.stderr, /no stateful snapshots.*CRIU/);

    await exec('sc1', 'echo after > /root/data.txt; echo new > /root/other.txt; sync');
    const busy = await d.cli('snapshot', 'restore', 'sc1', 's1', '--quiet');
    assert.notEqual(busy.code, 0);
    assert.match(busy.stderr, /running: stop it/);
    await run('stop', 'sc1', '--timeout', '20', '--quiet');
    await run('snapshot', 'restore', 'sc1', 's1', '--quiet');
    await run('start', 'sc1', '--quiet');
    await d.waitConsole('sc1', /NIMBO-READY sc1[\s\S]*NIMBO-READY sc1/, 60_000);
    assert.equal(await exec('sc1', 'cat /root/data.txt'), 'before\n');
    assert.equal((await d.cli('exec', 'sc1', '--', 'test', '-e', '/root/other.txt')).code, 1, 'later files are gone');
  });

  test('copy a stopped container: own address, own id range, same files; copy from a snapshot', async () => {
    const src = await d.cliJson<Inst>('info', 'sc1');
    const srcMap = await uidMap('sc1');
    await exec('sc1', 'echo copied > /root/copy.txt; sync');
    // The container points /.nimbo (where the seed and console are mounted) at a host directory:
    // copying and starting it must create nothing there (paths resolve inside the root).
    const hostDir = mkdtempSync(join('/var/tmp', `nimbo-${d.prefix}-escape-`));
    cleanups.push(() => rmSync(hostDir, { recursive: true, force: true }));
    await exec('sc1', `umount /.nimbo/seed /.nimbo/console && rm -rf /.nimbo && ln -s ${hostDir} /.nimbo && sync`);
    const running = await d.cli('copy', 'sc1', 'sc2', '--quiet');
    assert.notEqual(running.code, 0);
    assert.match(running.stderr, /running: stop it first/);
    await run('stop', 'sc1', '--timeout', '20', '--quiet');
    await run('copy', 'sc1', 'sc2', '--quiet');
    const cp = await d.cliJson<Inst>('info', 'sc2');
    assert.equal(cp.type, 'container');
    assert.equal(cp.state, 'stopped');
    await run('start', 'sc2', '--quiet');
    await run('start', 'sc1', '--quiet');
    await d.waitConsole('sc2', /NIMBO-READY sc2/, 60_000);
    const info2 = await d.cliJson<Inst>('info', 'sc2');
    assert.notEqual(info2.addresses[0], src.addresses[0], 'its own address');
    assert.equal(await exec('sc2', 'cat /root/copy.txt /root/data.txt'), 'copied\nbefore\n');
    assert.equal(await exec('sc2', 'hostname'), 'sc2\n');
    assert.deepEqual(readdirSync(hostDir), [], 'nothing was made through the symlink on the host');
    assert.equal(await exec('sc2', 'readlink /.nimbo; ls /.nimbo/seed/nimbo/hostname'), `${hostDir}\n/.nimbo/seed/nimbo/hostname\n`, 'the seed was mounted inside the root, through the link');
    const map2 = await uidMap('sc2');
    assert.equal(map2[0], 0);
    assert.equal(map2[2], 65536);
    assert.notEqual(map2[1], srcMap[1], 'its own id range');
    // Every file of the copy's root is owned inside its range (the seed mount is the daemon's).
    const owners = (await exec('sc2', 'ls -ln /root/copy.txt /bin/busybox')).trim().split('\n').map((l) => l.split(/\s+/)[2]);
    assert.deepEqual(owners, ['0', '0'], 'root-owned files are root in the copy');
    const st2 = await runcState('sc2');
    const hostUid = Number(readFileSync(`/proc/${st2!.pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)![1]);
    assert.equal(hostUid, map2[1]);
    const upper = join(pool(), 'filesystems', await rootOf('sc2'), 'upper', 'root', 'copy.txt');
    assert.equal(statSync(upper).uid, map2[1], 'the copied files moved to the new range on the host');
    // The two write independently.
    await exec('sc2', 'echo only-sc2 > /root/copy.txt; sync');
    await d.waitConsole('sc1', /NIMBO-READY sc1[\s\S]*NIMBO-READY sc1[\s\S]*NIMBO-READY sc1/, 60_000);
    assert.equal(await exec('sc1', 'cat /root/copy.txt'), 'copied\n');
    assert.deepEqual(readdirSync(hostDir), [], 'nor by starting the source again');
    // A copy of a snapshot while the source runs.
    await run('copy', 'sc1', 'sc3', '--snapshot', 's1', '--start', '--quiet');
    await d.waitConsole('sc3', /NIMBO-READY sc3/, 60_000);
    assert.equal(await exec('sc3', 'cat /root/data.txt'), 'before\n');
    assert.equal((await d.cli('exec', 'sc3', '--', 'test', '-e', '/root/copy.txt')).code, 1);
    const map3 = await uidMap('sc3');
    assert.ok(map3[1] !== map2[1] && map3[1] !== srcMap[1]);
    // A copy that fails half-way (its snapshot vanished from the pool) leaves nothing.
    await run('snapshot', 'create', 'sc1', 's9', '--quiet');
    rmSync(join(pool(), 'snapshots', await rootOf('sc1'), 's9'), { recursive: true, force: true });
    const volsBefore = readdirSync(join(pool(), 'filesystems')).sort();
    const dirsBefore = readdirSync(join(d.stateDir, 'instances')).sort();
    const broken = await d.cli('copy', 'sc1', 'sc5', '--snapshot', 's9', '--quiet');
    assert.notEqual(broken.code, 0);
    assert.equal((await d.api('GET', '/instances/sc5')).status, 404, 'the record is gone');
    assert.deepEqual(readdirSync(join(pool(), 'filesystems')).sort(), volsBefore, 'no volume left');
    assert.deepEqual(readdirSync(join(d.stateDir, 'instances')).sort(), dirsBefore, 'no instance dir left');
    await run('snapshot', 'delete', 'sc1', 's9', '--quiet');
    // Refusals.
    assert.match((await d.cli('copy', 'sc1', 'sc2', '--snapshot', 's1')).stderr, /already exists/);
    assert.match((await d.cli('copy', 'sc1', 'sc4', '--snapshot', 'nope')).stderr, /not found/i);
    const bad = await d.api('POST', '/instances/sc1/copy', { name: 'Bad_Name' });
    assert.equal(bad.status, 400);
  });

  test('delete removes containers, their snapshots and copies: nothing left', async () => {
    await run('snapshot', 'delete', 'sc1', 's1', '--quiet');
    assert.ok(!existsSync(join(pool(), 'snapshots', await rootOf('sc1'), 's1')));
    await run('snapshot', 'create', 'sc1', 's3', '--quiet');
    for (const n of ['sc1', 'sc2', 'sc3']) await run('delete', n, '--force', '--quiet');
    for (const n of ['sc1', 'sc2', 'sc3']) assert.equal(await runcState(n), null);
    assert.deepEqual(mountsOfRun(), [], 'no mounts left');
    assert.deepEqual((await d.api('GET', '/storage/pools/default/volumes')).body.volumes, []);
    for (const sub of ['filesystems', 'snapshots', '.tmp']) assert.deepEqual(readdirSync(join(pool(), sub)), [], `pool ${sub} is empty`);
    assert.ok(!(await runArgv(['ip', 'netns', 'list'])).stdout.includes(`${d.prefix}-`));
  });

  test('copy a stopped VM: a linked clone of its disk boots with its own address', async () => {
    await run('launch', 'tiny', 'sv1', '--memory', '192MiB', '--quiet');
    await d.waitConsole('sv1', /NIMBO-READY sv1/);
    const src = await d.cliJson<Inst>('info', 'sv1');
    const srcUid = qemuUid(src.pid!);
    await run('stop', 'sv1', '--force', '--quiet');
    await run('copy', 'sv1', 'sv2', '--start', '--quiet');
    await d.waitConsole('sv2', /NIMBO-READY sv2/);
    const cp = await d.cliJson<Inst>('info', 'sv2');
    assert.equal(cp.type, 'vm');
    assert.equal(cp.state, 'running');
    assert.notEqual(cp.addresses[0], src.addresses[0]);
    // The copy's QEMU has a uid of its own, and its disk is that uid's alone.
    const cpUid = qemuUid(cp.pid!);
    assert.notEqual(cpUid, srcUid);
    const svRoot = await rootOf('sv2');
    const disk = readdirSync(join(pool(), 'volumes')).find((f) => f.startsWith(svRoot))!;
    const st = statSync(join(pool(), 'volumes', disk));
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [cpUid, cpUid, 0o600]);
    for (const n of ['sv1', 'sv2']) await run('delete', n, '--force', '--quiet');
    assert.deepEqual((await d.api('GET', '/storage/pools/default/volumes')).body.volumes, []);
  });
});
