// Plans on a real daemon: a dedicated slice's container and VM run only on their own host core, and a
// shared neighbour never gets that core (checked in /proc: what the kernel applies, never a timing);
// a shared plan's CPU weight reaches the cgroup; the quota refuses the next launch through the CLI.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { TestDaemon, systemSkipReason } from './harness.js';
import { runArgv } from '../../src/host/exec.js';

const skip = systemSkipReason() ?? (existsSync('/usr/sbin/runc') ? undefined : 'runc is not installed (run scripts/setup.sh)');

/** The cores the kernel lets a process run on (/proc/PID/status Cpus_allowed_list). */
function allowedCores(pid: number): string {
  return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
}

/** A process's cgroup v1 directory of one controller. */
function cgroupDir(pid: number, controller: string): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]!.split(',').includes(controller));
  return `/sys/fs/cgroup/${controller}${line!.split(':')[2]}`;
}

interface Inst { name: string; pid: number | null; plan?: string; dedicatedCores?: number[]; cpus: number; memory: number }

describe('plans on a real daemon: dedicated cores and shared neighbours (runc, qemu)', { skip }, () => {
  let d: TestDaemon;
  const run = async (...args: string[]) => {
    const r = await d.cli(...args);
    assert.equal(r.code, 0, `nimbo ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const last = cpus().length - 1;

  before(async () => {
    d = await TestDaemon.start();
    await run('image', 'build', 'tiny', '--quiet');
    await run('plan', 'create', 'pin-d', '--class', 'dedicated', '--vcpus', '1', '--memory', '128', '--disk', '1', '--price', '0.05');
    await run('plan', 'create', 'pin-s', '--vcpus', '1', '--memory', '128', '--disk', '1', '--cpu-weight', '300', '--net-in', '50', '--net-out', '20');
  });
  after(async () => {
    await d?.cleanup();
  });

  test('a dedicated container gets a core of its own; a running shared neighbour is moved off it live (and back), with its weight', async () => {
    assert.ok(last >= 1, 'this test needs a host with 2 cores or more (core 0 is never dedicated)');
    const all = last === 1 ? '0-1' : `0-${last}`;
    const others = last === 1 ? '0' : last === 2 ? '0,2' : `0,2-${last}`;
    await run('launch', 'tiny', 'sh', '--container', '--plan', 'pin-s', '--quiet');
    const sh = await d.cliJson<Inst>('info', 'sh');
    assert.equal(allowedCores(sh.pid!), all, 'nothing dedicated yet: every core');
    assert.equal(readFileSync(`${cgroupDir(sh.pid!, 'cpu')}/cpu.shares`, 'utf8').trim(), String((300 * 1024) / 100));
    const nic = (await d.api('GET', '/instances/sh')).body.nics[0];
    assert.deepEqual([nic.ingressBps, nic.egressBps], [50e6, 20e6]);

    await run('launch', 'tiny', 'ded', '--container', '--plan', 'pin-d', '--quiet');
    const ded = await d.cliJson<Inst>('info', 'ded');
    assert.deepEqual([ded.plan, ded.cpus, ded.memory, ded.dedicatedCores], ['pin-d', 1, 128 * 1024 ** 2, [1]]);
    assert.equal(allowedCores(ded.pid!), '1');
    assert.equal(readFileSync(`${cgroupDir(ded.pid!, 'cpuset')}/cpuset.cpus`, 'utf8').trim(), '1');
    assert.equal(allowedCores(sh.pid!), others, 'the running shared neighbour left the dedicated core');
    assert.equal(readFileSync(`${cgroupDir(sh.pid!, 'cpuset')}/cpuset.cpus`, 'utf8').trim(), others);

    // The only dedicatable core is taken (on a 2-core host): the next dedicated launch is refused, naming what is missing.
    if (last === 1) {
      const r = await d.cli('launch', 'tiny', 'ded2', '--container', '--plan', 'pin-d', '--quiet');
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /no room for a dedicated instance on this host: 1 dedicated core\(s\) asked, 0 left/);
    }
    await run('delete', 'ded', '--force', '--quiet');
    assert.equal(allowedCores(sh.pid!), all, 'the freed core is shared again');
  });

  test('a dedicated VM: every QEMU thread pinned to its core (taskset through the host adapter); the core is given back on delete', async () => {
    await run('launch', 'tiny', 'vmd', '--plan', 'pin-d', '--quiet');
    const vm = await d.cliJson<Inst>('info', 'vmd');
    assert.deepEqual(vm.dedicatedCores, [1]);
    const tasks = (await runArgv(['ls', `/proc/${vm.pid}/task`])).stdout.split('\n').filter(Boolean);
    assert.ok(tasks.length > 1);
    for (const t of tasks) assert.equal(/Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${vm.pid}/task/${t}/status`, 'utf8'))![1], '1', `thread ${t}`);
    await run('delete', 'vmd', '--force', '--quiet');
    await run('launch', 'tiny', 'ded3', '--container', '--plan', 'pin-d', '--quiet');
    assert.deepEqual((await d.cliJson<Inst>('info', 'ded3')).dedicatedCores, [1], 'the core came back');
  });

  test('quota through the CLI: the launch past the instance limit is refused with the project and the numbers', async () => {
    await run('quota', 'set', 'instances=2');
    const r = await d.cli('launch', 'tiny', 'over', '--container', '--plan', 'pin-s', '--quiet');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /project default is over its quota of 2 instances: 2 in use and 1 more asked/);
    const q = await d.cliJson<{ usage: { instances: number }; limits: { instances: number } }>('quota', 'show');
    assert.deepEqual([q.usage.instances, q.limits.instances], [2, 2]);
    assert.equal((await d.cli('plan', 'delete', 'pin-s')).code !== 0, true, 'a plan in use cannot be deleted');
  });
});
