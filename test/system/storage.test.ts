import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { probeAs } from '../../src/drivers/compute/qemu/access-probe.js';
import { walk } from './state-access.js';
import { TestDaemon, makeSshKey, sshUntil, ssh, systemSkipReason, sleep } from './harness.js';

interface Inst {
  addresses: string[];
  pid: number | null;
}
interface Vol {
  name: string;
  size: number;
  attachedTo: string | null;
  snapshots: number;
}

/** Assert a CLI run succeeded, showing its stderr otherwise. */
function ok(r: { code: number; stderr: string; stdout?: string }): void {
  assert.equal(r.code, 0, r.stderr);
}

/** The guest's block device whose size is `sectors` (512-byte units), e.g. vdc. */
async function findDisk(key: string, addr: string, sectors: number, timeoutMs = 30_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const r = await ssh(key, addr, `for d in /sys/block/vd*; do echo $(basename $d) $(cat $d/size); done`);
    const hit = r.stdout.split('\n').map((l) => l.split(' ')).find((p) => Number(p[1]) === sectors);
    if (hit) return hit[0]!;
    await sleep(1000);
  }
  throw new Error(`no disk of ${sectors} sectors in the guest`);
}

describe('storage: volumes, hot-plug, online resize, snapshots (real VMs)', { skip: systemSkipReason() }, () => {
  let d: TestDaemon;
  let key: { dir: string; key: string; pub: string };
  const addr: Record<string, string> = {};

  before(async () => {
    d = await TestDaemon.start();
    key = await makeSshKey();
    ok(await d.cli('image', 'build', 'tiny', '--quiet'));
    for (const vm of ['s1', 's2']) {
      const r = await d.cli('launch', 'tiny', vm, '--ssh-key', `${key.key}.pub`, '--memory', '256MiB', '--quiet');
      assert.equal(r.code, 0, r.stderr);
      addr[vm] = (await d.cliJson<Inst>('info', vm)).addresses[0]!;
    }
    for (const vm of ['s1', 's2']) assert.equal((await sshUntil(key.key, addr[vm]!, 90_000, 'true')).code, 0);
  });
  after(async () => {
    await d?.cleanup();
    if (key) rmSync(key.dir, { recursive: true, force: true });
  });

  test('the default pool reports size, used and provisioned space', async () => {
    const pools = await d.cliJson<{ name: string; driver: string; size: number; provisioned: number }[]>('storage', 'pool', 'list');
    const def = pools.find((p) => p.name === 'default')!;
    assert.equal(def.driver, 'dir');
    assert.ok(def.size > 0);
  });

  /** The uid a running VM's QEMU runs as (its own: vm-ids.ts). */
  const qemuUid = async (vm: string) => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${(await d.cliJson<Inst>('info', vm)).pid}/status`, 'utf8'))![1]);
  /** [uid, gid, mode] of a volume's file in the default pool. */
  const ownerOf = (volume: string) => {
    const f = walk(join(d.stateDir, 'pools', 'default')).find((p) => new RegExp(`/volumes/${volume}\\.(qcow2|raw)$`).test(p))!;
    const st = statSync(f);
    return { file: f, owner: [st.uid, st.gid, st.mode & 0o7777] };
  };

  test('a volume hot-plugged into a running VM is written, detached, and read by another VM', async () => {
    const [u1, u2] = [await qemuUid('s1'), await qemuUid('s2')];
    assert.notEqual(u1, u2, 'each VM has its own QEMU uid');
    ok(await d.cli('storage', 'volume', 'create', 'default', 'data1', '--size', '64MiB', '--quiet'));
    assert.deepEqual(ownerOf('data1').owner, [0, 0, 0o600], 'a new volume is root\'s alone');
    const att = await d.cli('storage', 'volume', 'attach', 's1', 'default', 'data1', '--quiet');
    assert.equal(att.code, 0, att.stderr);
    // Handed to s1's QEMU only: s2's QEMU uid cannot open it.
    const { file, owner } = ownerOf('data1');
    assert.deepEqual(owner, [u1, u1, 0o600]);
    assert.deepEqual(await probeAs(u2, u2, [file], true), { [file]: 'EACCES' });
    assert.equal((await d.cliJson<Vol>('storage', 'volume', 'info', 'default', 'data1')).attachedTo, 's1');
    const dev = await findDisk(key.key, addr.s1!, 131072);
    const w = await ssh(key.key, addr.s1!, `printf NIMBO-DATA-4711 > /dev/${dev} && sync && head -c 15 /dev/${dev}`);
    assert.equal(w.stdout, 'NIMBO-DATA-4711', w.stderr);
    const refused = await d.cli('storage', 'volume', 'delete', 'default', 'data1');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /attached to s1/);
    const det = await d.cli('storage', 'volume', 'detach', 's1', 'default', 'data1', '--quiet');
    assert.equal(det.code, 0, det.stderr);
    const gone = await ssh(key.key, addr.s1!, `ls /sys/block/${dev} 2>/dev/null || echo gone`);
    assert.match(gone.stdout, /gone/);
    assert.deepEqual(ownerOf('data1').owner, [0, 0, 0o600], 'detached: root\'s again');
    assert.deepEqual(await probeAs(u1, u1, [file], true), { [file]: 'EACCES' }, 's1\'s QEMU lost it');
    ok(await d.cli('storage', 'volume', 'attach', 's2', 'default', 'data1', '--quiet'));
    assert.deepEqual(ownerOf('data1').owner, [u2, u2, 0o600]);
    const dev2 = await findDisk(key.key, addr.s2!, 131072);
    const r = await ssh(key.key, addr.s2!, `head -c 15 /dev/${dev2}`);
    assert.equal(r.stdout, 'NIMBO-DATA-4711');
  });

  test('20 concurrent attaches of one volume to 20 instances: exactly one is accepted, 19 get a 409 at once', async () => {
    ok(await d.cli('storage', 'volume', 'create', 'default', 'race1', '--size', '16MiB', '--quiet'));
    // 18 more instances, created and never started (cheap): s1, s2 and these are the 20 targets.
    const extra = Array.from({ length: 18 }, (_, i) => `race${i + 2}`);
    const created = await Promise.all(extra.map((name) => d.api('POST', '/instances', { name, image: 'tiny', memory: '64MiB', start: false })));
    for (const c of created) assert.equal(c.status, 202, JSON.stringify(c.body));
    for (const c of created) assert.equal((await d.api('GET', `/operations/${c.body.operation.id}/wait?timeout=300`)).body.status, 'success');
    const targets = ['s1', 's2', ...extra];
    const replies = await Promise.all(targets.map((vm) => d.api('POST', `/instances/${vm}/volumes`, { pool: 'default', volume: 'race1' })));
    const won = replies.filter((r) => r.status === 202);
    assert.equal(won.length, 1, replies.map((r) => `${r.status} ${JSON.stringify(r.body)}`).join('\n'));
    const winner = targets[replies.indexOf(won[0]!)]!;
    for (const r of replies.filter((x) => x !== won[0])) {
      assert.equal(r.status, 409);
      assert.equal(r.body.error.message, `volume default/race1 is already attached to ${winner}`);
    }
    const op = await d.api('GET', `/operations/${won[0]!.body.operation.id}/wait?timeout=120`);
    assert.equal(op.body.status, 'success', JSON.stringify(op.body.error));
    assert.equal((await d.cliJson<Vol>('storage', 'volume', 'info', 'default', 'race1')).attachedTo, winner);
    ok(await d.cli('storage', 'volume', 'detach', winner, 'default', 'race1', '--quiet'));
    assert.equal((await d.cliJson<Vol>('storage', 'volume', 'info', 'default', 'race1')).attachedTo, null);
    ok(await d.cli('storage', 'volume', 'delete', 'default', 'race1', '--quiet'));
    ok(await d.cli('delete', ...extra, '--quiet'));
  });

  test('an online resize is seen by the guest', async () => {
    const r = await d.cli('storage', 'volume', 'resize', 'default', 'data1', '96MiB', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    const dev = await findDisk(key.key, addr.s2!, 196608);
    assert.match(dev, /^vd/);
    assert.equal((await d.cliJson<Vol>('storage', 'volume', 'info', 'default', 'data1')).size, 96 * 1024 * 1024);
    const shrink = await d.cli('storage', 'volume', 'resize', 'default', 'data1', '32MiB');
    assert.notEqual(shrink.code, 0);
    assert.match(shrink.stderr, /shrink/);
  });

  test('attached volumes come back after a restart', async () => {
    ok(await d.cli('restart', 's2', '--force', '--quiet'));
    assert.equal((await sshUntil(key.key, addr.s2!, 90_000, 'true')).code, 0);
    const dev = await findDisk(key.key, addr.s2!, 196608);
    assert.equal((await ssh(key.key, addr.s2!, `head -c 15 /dev/${dev}`)).stdout, 'NIMBO-DATA-4711');
  });

  test('a snapshot restore brings back the earlier content; clones are independent', async () => {
    ok(await d.cli('storage', 'volume', 'detach', 's2', 'default', 'data1', '--quiet'));
    ok(await d.cli('storage', 'volume', 'clone', 'default', 'data1', 'copy1', '--quiet'));
    ok(await d.cli('storage', 'volume', 'snapshot', 'create', 'default', 'data1', 'before', '--quiet'));
    ok(await d.cli('storage', 'volume', 'clone', 'default', 'data1', 'copy2', '--full', '--quiet'));
    for (const c of ['copy1', 'copy2']) assert.deepEqual(ownerOf(c).owner, [0, 0, 0o600], `${c} is root's until a VM gets it`);
    ok(await d.cli('storage', 'volume', 'attach', 's1', 'default', 'data1', '--quiet'));
    let dev = await findDisk(key.key, addr.s1!, 196608);
    await ssh(key.key, addr.s1!, `printf CHANGED-DATA-00 > /dev/${dev} && sync`);
    assert.equal((await ssh(key.key, addr.s1!, `head -c 15 /dev/${dev}`)).stdout, 'CHANGED-DATA-00');
    const busy = await d.cli('storage', 'volume', 'snapshot', 'restore', 'default', 'data1', 'before');
    assert.notEqual(busy.code, 0, 'restore is refused while attached');
    ok(await d.cli('storage', 'volume', 'detach', 's1', 'default', 'data1', '--quiet'));
    const rest = await d.cli('storage', 'volume', 'snapshot', 'restore', 'default', 'data1', 'before', '--quiet');
    assert.equal(rest.code, 0, rest.stderr);
    ok(await d.cli('storage', 'volume', 'attach', 's1', 'default', 'data1', '--quiet'));
    dev = await findDisk(key.key, addr.s1!, 196608);
    assert.equal((await ssh(key.key, addr.s1!, `head -c 15 /dev/${dev}`)).stdout, 'NIMBO-DATA-4711');
    ok(await d.cli('storage', 'volume', 'attach', 's2', 'default', 'copy1', '--quiet'));
    const dev2 = await findDisk(key.key, addr.s2!, 196608);
    assert.equal((await ssh(key.key, addr.s2!, `head -c 15 /dev/${dev2}`)).stdout, 'NIMBO-DATA-4711', 'the clone has the data of its source');
    const vols = await d.cliJson<Vol[]>('storage', 'volume', 'list', 'default');
    assert.deepEqual(vols.map((v) => v.name).sort(), ['copy1', 'copy2', 'data1', await d.rootVolumeOf('s1'), await d.rootVolumeOf('s2')].sort(), 'root disks are pool volumes too');
    assert.equal(vols.find((v) => v.name === 'data1')!.snapshots, 1);
  });

  test('delete --force frees a volume attached to a stopped instance; the instance restarts without it', async () => {
    ok(await d.cli('stop', 's2', '--force', '--quiet'));
    const root = await d.cli('storage', 'volume', 'delete', 'default', await d.rootVolumeOf('s2'), '--force');
    assert.notEqual(root.code, 0);
    assert.match(root.stderr, /root disk of s2/);
    const refused = await d.cli('storage', 'volume', 'delete', 'default', 'copy1');
    assert.notEqual(refused.code, 0);
    ok(await d.cli('storage', 'volume', 'delete', 'default', 'copy1', '--force', '--quiet'));
    ok(await d.cli('start', 's2', '--quiet'));
    assert.equal((await sshUntil(key.key, addr.s2!, 90_000, 'true')).code, 0);
  });

  test('I/O limits are applied live', async () => {
    const r = await d.cli('storage', 'volume', 'limits', 'default', 'data1', '--iops-write', '100', '--bps-read', '10MiB', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    const v = await d.api('GET', '/storage/pools/default/volumes/data1');
    assert.equal(v.body.limits.iopsWrite, 100);
    assert.equal(v.body.limits.bytesRead, 10 * 1024 * 1024);
  });

  test('instance snapshots: disk-only restore on a stopped VM, stateful restore of a running VM', async () => {
    const a = addr.s1!;
    ok(await ssh(key.key, a, 'echo one > /root/marker && sync'));
    ok(await d.cli('snapshot', 'create', 's1', 'disk1', '--quiet'));
    ok(await ssh(key.key, a, 'echo two > /root/marker && sync'));
    ok(await d.cli('stop', 's1', '--force', '--quiet'));
    ok(await d.cli('snapshot', 'restore', 's1', 'disk1', '--quiet'));
    ok(await d.cli('start', 's1', '--quiet'));
    assert.equal((await sshUntil(key.key, a, 90_000, 'cat /root/marker')).stdout.trim(), 'one');

    ok(await ssh(key.key, a, 'mkdir -p /mnt/ram && mount -t tmpfs none /mnt/ram && echo before > /mnt/ram/x'));
    const running = await d.cli('snapshot', 'restore', 's1', 'disk1');
    assert.notEqual(running.code, 0);
    assert.match(running.stderr, /stop it/);
    ok(await d.cli('snapshot', 'create', 's1', 'mem1', '--stateful', '--quiet'));
    ok(await ssh(key.key, a, 'echo after > /mnt/ram/x'));
    ok(await d.cli('snapshot', 'restore', 's1', 'mem1', '--quiet'));
    assert.equal((await d.cliJson<{ state: string }>('info', 's1')).state, 'running');
    assert.equal((await sshUntil(key.key, a, 60_000, 'cat /mnt/ram/x')).stdout.trim(), 'before', 'RAM contents came back');
    const list = await d.cliJson<{ name: string; stateful: boolean }[]>('snapshot', 'list', 's1');
    assert.deepEqual(list.map((x) => [x.name, x.stateful]), [['disk1', false], ['mem1', true]]);
    ok(await d.cli('snapshot', 'delete', 's1', 'mem1', '--quiet'));
    ok(await d.cli('snapshot', 'delete', 's1', 'disk1', '--quiet'));
    assert.deepEqual(await d.cliJson<unknown[]>('snapshot', 'list', 's1'), []);
  });

  test('snapshot schedules are validated', async () => {
    const bad = await d.api('PUT', '/instances/s1/snapshot-schedule', { cron: '61 * * * *' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /minute field "61" is out of range/);
    ok(await d.cli('snapshot', 'schedule', 's1', '@daily', '--expiry', '7d'));
    // Read back through the daemon: the real values and a next run at the coming midnight (UTC).
    const shown = await d.cliJson<{ cron: string; expiry?: string; nextRun?: string }>('snapshot', 'schedule', 'show', 's1');
    assert.equal(shown.cron, '@daily');
    assert.equal(shown.expiry, '7d');
    assert.match(shown.nextRun ?? '', /T00:00:00\.000Z$/);
    assert.equal((await d.cliJson<{ snapshotSchedule?: { cron: string } }>('info', 's1')).snapshotSchedule?.cron, '@daily');
    ok(await d.cli('snapshot', 'schedule', 's1', '30 2 * * MON-FRI'));
    assert.equal((await d.cliJson<{ cron: string }>('snapshot', 'schedule', 'show', 's1')).cron, '30 2 * * MON-FRI');
    ok(await d.cli('snapshot', 'schedule', 's1', '--off'));
    assert.equal((await d.api('GET', '/instances/s1/snapshot-schedule')).status, 404);
  });
});
