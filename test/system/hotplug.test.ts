// Hotplug and ballooning on a real daemon: one tiny VM launched with hot-add room grows live (CPUs through
// device_add, memory through a pc-dimm), the guest sees it, past the maximum is refused, and the balloon's
// guest statistics show in the instance view.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { TestDaemon, makeSshKey, ssh, sshUntil, systemSkipReason } from './harness.js';

const skip = systemSkipReason();
const MiB = 1024 ** 2;

interface Inst {
  state: string;
  cpus: number;
  memory: number;
  maxCpus?: number;
  maxMemory?: number;
  addresses: string[];
  usage?: { memoryBytes: number; guestMemory?: { totalBytes: number; freeBytes: number; availableBytes: number; usedBytes: number } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** MemTotal of the guest, bytes. */
const memTotal = (meminfo: string): number => Number(/^MemTotal:\s+(\d+) kB$/m.exec(meminfo)![1]) * 1024;

describe('hotplug and ballooning on a real daemon (TCG)', { skip }, () => {
  let d: TestDaemon;
  let key: { dir: string; key: string; pub: string };
  let addr = '';
  let memBefore = 0;

  before(async () => {
    d = await TestDaemon.start();
    key = await makeSshKey();
  });
  after(async () => {
    await d?.cleanup();
    if (key) rmSync(key.dir, { recursive: true, force: true });
  });

  test('launch refusals: a maximum below the size, a maximum on a container (400, nothing made)', async () => {
    const low = await d.cli('launch', 'tiny', 'bad1', '--cpus', '2', '--max-cpus', '1', '--quiet');
    assert.equal(low.code, 2, low.stderr);
    assert.match(low.stderr, /maxCpus 1 is below cpus 2/);
    const api = await d.api('POST', '/instances', { name: 'bad2', image: 'tiny', memory: '256MiB', maxMemory: '128MiB' });
    assert.equal(api.status, 400);
    assert.match(api.body.error?.message ?? JSON.stringify(api.body), /maxMemory 128MiB is below memory 256MiB/);
    const ct = await d.api('POST', '/instances', { name: 'bad3', image: 'tiny', type: 'container', maxCpus: 2 });
    assert.equal(ct.status, 400);
    assert.match(JSON.stringify(ct.body), /maxCpus and maxMemory are for VMs/);
    assert.deepEqual((await d.api('GET', '/instances')).body.instances, []);
  });

  test('launch with --max-cpus/--max-memory: stored and shown; the guest boots with the launch size', async () => {
    const r = await d.cli('launch', 'tiny', 'hp1', '--ssh-key', `${key.key}.pub`, '--cpus', '1', '--max-cpus', '2', '--memory', '128MiB', '--max-memory', '256MiB', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    const info = await d.cliJson<Inst>('info', 'hp1');
    assert.deepEqual([info.state, info.cpus, info.memory, info.maxCpus, info.maxMemory], ['running', 1, 128 * MiB, 2, 256 * MiB]);
    assert.match((await d.cli('info', 'hp1')).stdout, /CPUs:?\s+1 \(max 2\)/);
    addr = info.addresses[0]!;
    const out = await sshUntil(key.key, addr, 90_000, 'nproc; cat /proc/meminfo');
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^1\n/);
    memBefore = memTotal(out.stdout);
  });

  test('past the maximum and a live shrink are refused before anything changes', async () => {
    const cpu = await d.cli('resize', 'hp1', '--cpus', '3', '--quiet');
    assert.equal(cpu.code, 2, cpu.stderr);
    assert.match(cpu.stderr, /at most 2 vCPUs \(its maximum, set at launch with --max-cpus\)/);
    const mem = await d.cli('resize', 'hp1', '--memory', '512MiB', '--quiet');
    assert.equal(mem.code, 2, mem.stderr);
    assert.match(mem.stderr, /at most 256 MiB of memory/);
    const shrink = await d.cli('resize', 'hp1', '--memory', '64MiB', '--quiet');
    assert.equal(shrink.code, 4, shrink.stderr);
    assert.match(shrink.stderr, /needs a stop/);
    const info = await d.cliJson<Inst>('info', 'hp1');
    assert.deepEqual([info.cpus, info.memory], [1, 128 * MiB]);
  });

  test('resize live to 2 vCPUs and 256 MiB: recorded, and the guest sees them (nproc, MemTotal)', async () => {
    const r = await d.cli('resize', 'hp1', '--cpus', '2', '--memory', '256MiB', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    const info = await d.cliJson<Inst>('info', 'hp1');
    assert.deepEqual([info.state, info.cpus, info.memory], ['running', 2, 256 * MiB]);
    let last = '';
    for (let i = 0; i < 30; i++) {
      const out = await ssh(key.key, addr, 'nproc; cat /proc/meminfo');
      last = out.stdout + out.stderr;
      if (out.code === 0 && /^2\n/.test(out.stdout) && memTotal(out.stdout) >= memBefore + 120 * MiB) break;
      await sleep(1000);
    }
    assert.match(last, /^2\n/, `nproc after the hot-add: ${last.slice(0, 200)}`);
    assert.ok(memTotal(last) >= memBefore + 120 * MiB, `MemTotal grew from ${memBefore} to ${memTotal(last)}`);
  });

  test('the balloon reports memory as the guest sees it, next to the host RSS', async () => {
    let info: Inst | undefined;
    for (let i = 0; i < 20; i++) {
      info = await d.cliJson<Inst>('info', 'hp1');
      // Statistics come every 5 s: wait for one sent after the hot-add.
      if ((info.usage?.guestMemory?.totalBytes ?? 0) > 128 * MiB) break;
      await sleep(1000);
    }
    const g = info?.usage?.guestMemory;
    assert.ok(g, `guest memory statistics appear: ${JSON.stringify(info?.usage)}`);
    assert.ok(g.totalBytes > 128 * MiB && g.totalBytes <= 256 * MiB, `guest total ${g.totalBytes} includes the hot-added DIMM`);
    assert.ok(g.freeBytes > 0 && g.freeBytes <= g.availableBytes && g.availableBytes <= g.totalBytes, JSON.stringify(g));
    assert.equal(g.usedBytes, g.totalBytes - g.availableBytes);
    assert.ok(info!.usage!.memoryBytes > 0, 'host RSS');
    assert.match((await d.cli('info', 'hp1')).stdout, /Guest memory:?\s+\S+ used of /);
  });

  test('free page reporting: memory the guest frees goes back to the host (QEMU RSS falls)', async () => {
    const pid = (await d.cliJson<{ pid: number }>('info', 'hp1')).pid;
    const rss = () => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
    // dd holds a 120 MiB buffer (filled from /dev/zero) until sleep exits and its write fails; then it is freed at once.
    const held = ssh(key.key, addr, 'dd if=/dev/zero bs=120M count=1 2>/dev/null | sleep 6; echo done');
    await sleep(4000);
    const high = rss();
    assert.match((await held).stdout, /done/);
    let low = high;
    for (let i = 0; i < 60 && low > high - 60 * MiB; i++) {
      await sleep(500);
      low = rss();
    }
    assert.ok(low <= high - 60 * MiB, `QEMU RSS ${Math.round(high / MiB)} MiB while the guest held 120 MiB, ${Math.round(low / MiB)} MiB after it freed them`);
  });

  test('a restart keeps the new size (it boots with 2 vCPUs and 256 MiB)', async () => {
    const r = await d.cli('restart', 'hp1', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    const out = await sshUntil(key.key, addr, 90_000, 'nproc; cat /proc/meminfo');
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^2\n/);
    assert.ok(memTotal(out.stdout) >= memBefore + 120 * MiB, `MemTotal ${memTotal(out.stdout)} after the restart`);
    const info = await d.cliJson<Inst>('info', 'hp1');
    assert.deepEqual([info.cpus, info.memory, info.maxCpus, info.maxMemory], [2, 256 * MiB, 2, 256 * MiB]);
  });
});
